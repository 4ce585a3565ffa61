//! Where states live, and their locks: a local folder under the project
//! (the default) or an S3 bucket and prefix (`s3://BUCKET/PREFIX`).
//!
//! Both write atomically and refuse to clobber a concurrent writer: locally
//! through a temporary file, fsync and rename after checking the serial; on
//! S3 with conditional writes (`If-Match` on the ETag read,
//! `If-None-Match: *` for the first write). A lock is an object of its own,
//! created only if absent (`O_EXCL`, `If-None-Match: *`), carrying its
//! holder, host, process, operation and a lease that the holder renews.
//! An expired lease, or a holder process on this host that no longer runs,
//! is a stale lock that the next locker takes over (and says so).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::{State, now_rfc3339, parse_rfc3339, random_hex, rfc3339};
use crate::diagnostic::{Diagnostic, codes};

/// A lock's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    /// The state it guards (its layer key).
    pub state: String,
    pub holder: String,
    pub host: String,
    pub pid: u32,
    pub operation: String,
    pub created: String,
    /// The lease's end; the holder renews it while it works.
    pub expires: String,
}

impl LockInfo {
    pub fn describe(&self) -> String {
        format!(
            "lock {} held by {} on {} (process {}) for `{}` since {}, lease until {}",
            self.id, self.holder, self.host, self.pid, self.operation, self.created, self.expires
        )
    }

    /// Expired, or held by a process of this host that has ended.
    fn stale(&self) -> Option<&'static str> {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if parse_rfc3339(&self.expires).is_some_and(|t| t < now) {
            return Some("its lease expired");
        }
        if self.host == host_name() && !process_alive(self.pid) {
            return Some("its process on this host has ended");
        }
        None
    }
}

/// A lock this process holds.
#[derive(Debug)]
pub struct Lock {
    pub info: LockInfo,
    etag: Option<String>,
    /// Set when a stale lock was taken over: whose, and why.
    pub took_over: Option<String>,
}

/// A state as read, with the version token a conditional write needs.
#[derive(Clone, Debug)]
pub struct Stored {
    pub state: State,
    etag: Option<String>,
}

impl Stored {
    pub fn new(state: State) -> Stored {
        Stored { state, etag: None }
    }
}

pub enum Backend {
    Local {
        dir: PathBuf,
    },
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
}

/// How long a lock's lease lasts (renewed at a third of it);
/// `REL_LOCK_LEASE_SECONDS` changes it.
pub fn lease() -> Duration {
    let secs = std::env::var("REL_LOCK_LEASE_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| *s >= 3)
        .unwrap_or(300);
    Duration::from_secs(secs)
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .or_else(|_| std::env::var("GITHUB_ACTOR"))
        .unwrap_or_else(|_| "unknown-user".into())
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        // A zombie has ended too: read its state.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    } else {
        // No cheap check elsewhere: only the lease decides.
        true
    }
}

fn state_error(message: String) -> Diagnostic {
    Diagnostic::error(codes::STATE_UNREADABLE, message)
}

fn backend_error(what: &str, e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(codes::PROVIDER_ERROR, format!("{what}: {e}"))
        .with_help("Check the state backend's address, credentials and network.")
}

fn s3_error<E, R>(what: &str, e: &aws_sdk_s3::error::SdkError<E, R>) -> Diagnostic
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = match e.as_service_error() {
        Some(s) => format!(
            "{} {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or_default()
        ),
        None => aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
    };
    backend_error(what, detail.trim())
}

/// True when S3 refused a conditional write because of its condition.
fn precondition_failed<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
{
    use aws_sdk_s3::error::ProvideErrorMetadata;
    matches!(
        e.code(),
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    ) || matches!(e, aws_sdk_s3::error::SdkError::ServiceError(s) if matches!(s.raw().status().as_u16(), 409 | 412))
}

impl Backend {
    /// A backend from `--state`: `s3://BUCKET/PREFIX`, or a folder.
    pub fn open(
        spec: Option<&str>,
        project: &Path,
        config: Option<&aws_config::SdkConfig>,
    ) -> Result<Backend, Diagnostic> {
        match spec {
            None => Ok(Backend::Local {
                dir: project.join(".rel").join("state"),
            }),
            Some(s) if s.starts_with("s3://") => {
                let rest = &s["s3://".len()..];
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(Diagnostic::error(
                        codes::BACKEND_INVALID,
                        format!("`{s}` names no bucket"),
                    )
                    .with_help("Write --state s3://BUCKET/PREFIX."));
                }
                let config = config.expect("an AWS configuration for the S3 backend");
                let s3_config = aws_sdk_s3::config::Builder::from(config)
                    .force_path_style(true)
                    .build();
                Ok(Backend::S3 {
                    client: aws_sdk_s3::Client::from_conf(s3_config),
                    bucket: bucket.to_string(),
                    prefix: prefix.trim_matches('/').to_string(),
                })
            }
            Some(s) if s.contains("://") => Err(Diagnostic::error(
                codes::BACKEND_INVALID,
                format!("`{s}` is not a state backend rel knows"),
            )
            .with_help("Use a folder, or s3://BUCKET/PREFIX.")),
            Some(dir) => Ok(Backend::Local {
                dir: PathBuf::from(dir),
            }),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Backend::Local { dir } => dir.display().to_string(),
            Backend::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}"),
        }
    }

    pub fn is_s3(&self) -> bool {
        matches!(self, Backend::S3 { .. })
    }

    fn key(&self, name: &str) -> String {
        match self {
            Backend::S3 { prefix, .. } if !prefix.is_empty() => format!("{prefix}/{name}"),
            _ => name.to_string(),
        }
    }

    /// The state of a layer, if one was written.
    pub async fn read(&self, key: &str) -> Result<Option<Stored>, Diagnostic> {
        let file = format!("{key}.json");
        let (text, etag) = match self {
            Backend::Local { dir } => match std::fs::read_to_string(dir.join(&file)) {
                Ok(t) => (t, None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => {
                    return Err(state_error(format!(
                        "cannot read `{}`: {e}",
                        dir.join(&file).display()
                    )));
                }
            },
            Backend::S3 { client, bucket, .. } => {
                match client
                    .get_object()
                    .bucket(bucket)
                    .key(self.key(&file))
                    .send()
                    .await
                {
                    Ok(out) => {
                        let etag = out.e_tag().map(str::to_string);
                        let bytes = out
                            .body
                            .collect()
                            .await
                            .map_err(|e| backend_error("reading the state from S3", e))?
                            .into_bytes();
                        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                            state_error(format!("`{}` is not UTF-8", self.key(&file)))
                        })?;
                        (text, etag)
                    }
                    Err(e)
                        if e.as_service_error().is_some_and(
                            aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key,
                        ) =>
                    {
                        return Ok(None);
                    }
                    Err(e) => return Err(s3_error("reading the state from S3", &e)),
                }
            }
        };
        let state = State::from_json(&text).map_err(|e| {
            state_error(format!("state `{}` in {}: {e}", file, self.describe()))
                .with_help("Restore the file from a backup, or move it aside to start a new history (rel then forgets what it created).")
        })?;
        Ok(Some(Stored { state, etag }))
    }

    /// Writes a state, refusing if someone else wrote since `previous` was
    /// read. Returns the new version.
    pub async fn write(
        &self,
        key: &str,
        previous: &Stored,
        state: &State,
    ) -> Result<Stored, Diagnostic> {
        let file = format!("{key}.json");
        let text = state.to_json();
        let conflict = || {
            Diagnostic::error(
                codes::STATE_CONFLICT,
                format!("state `{file}` was changed by someone else while rel held it"),
            )
            .with_help("Nothing was overwritten. Run the command again; `rel state show` prints the state as it is now.")
        };
        match self {
            Backend::Local { dir } => {
                let path = dir.join(&file);
                std::fs::create_dir_all(dir)
                    .map_err(|e| backend_error(&format!("cannot create `{}`", dir.display()), e))?;
                let current = match std::fs::read_to_string(&path) {
                    Ok(t) => State::from_json(&t).ok().map(|s| (s.lineage, s.serial)),
                    Err(_) => None,
                };
                let expected = (previous.etag.is_some() || previous.state.serial > 0)
                    .then(|| (previous.state.lineage.clone(), previous.state.serial));
                if current.is_some() && current != expected {
                    return Err(conflict());
                }
                write_atomically(&path, text.as_bytes())
                    .map_err(|e| backend_error(&format!("cannot write `{}`", path.display()), e))?;
                Ok(Stored {
                    state: state.clone(),
                    etag: Some(format!("{}:{}", state.lineage, state.serial)),
                })
            }
            Backend::S3 { client, bucket, .. } => {
                let mut put = client
                    .put_object()
                    .bucket(bucket)
                    .key(self.key(&file))
                    .content_type("application/json")
                    .body(text.into_bytes().into());
                put = match &previous.etag {
                    Some(etag) => put.if_match(etag),
                    None => put.if_none_match("*"),
                };
                match put.send().await {
                    Ok(out) => Ok(Stored {
                        state: state.clone(),
                        etag: out.e_tag().map(str::to_string),
                    }),
                    Err(e) if precondition_failed(&e) => Err(conflict()),
                    Err(e) => Err(s3_error("writing the state to S3", &e)),
                }
            }
        }
    }

    /// Takes the lock of a state, or fails at once naming its holder.
    pub async fn lock(&self, key: &str, operation: &str) -> Result<Lock, Diagnostic> {
        let mut took_over = None;
        for _ in 0..2 {
            let now = SystemTime::now();
            let info = LockInfo {
                id: random_hex(8),
                state: key.to_string(),
                holder: user_name(),
                host: host_name(),
                pid: std::process::id(),
                operation: operation.to_string(),
                created: rfc3339(now),
                expires: rfc3339(now + lease()),
            };
            match self.create_lock(key, &info).await? {
                Ok(etag) => {
                    return Ok(Lock {
                        info,
                        etag,
                        took_over,
                    });
                }
                Err(held) => {
                    let Some(held) = held else { continue };
                    if let Some(why) = held.stale() {
                        took_over = Some(format!("took over stale {} ({why})", held.describe()));
                        self.remove_lock(key, &held.id).await?;
                        continue;
                    }
                    return Err(locked(&held));
                }
            }
        }
        Err(Diagnostic::error(
            codes::STATE_LOCKED,
            format!("state `{key}` is being locked by another process right now"),
        )
        .with_help("Try again in a moment."))
    }

    /// Creates the lock object only if absent: `Ok(Ok(etag))` when taken,
    /// `Ok(Err(holder))` when someone holds it (None: gone while reading).
    async fn create_lock(
        &self,
        key: &str,
        info: &LockInfo,
    ) -> Result<Result<Option<String>, Option<LockInfo>>, Diagnostic> {
        let file = format!("{key}.lock");
        let text = serde_json::to_string_pretty(info).expect("lock serialises") + "\n";
        match self {
            Backend::Local { dir } => {
                use std::io::Write;
                std::fs::create_dir_all(dir)
                    .map_err(|e| backend_error(&format!("cannot create `{}`", dir.display()), e))?;
                let path = dir.join(&file);
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                {
                    Ok(mut f) => {
                        f.write_all(text.as_bytes())
                            .and_then(|()| f.sync_all())
                            .map_err(|e| backend_error("cannot write the lock", e))?;
                        Ok(Ok(None))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Ok(Err(self.read_lock(key).await?))
                    }
                    Err(e) => Err(backend_error(
                        &format!("cannot create `{}`", path.display()),
                        e,
                    )),
                }
            }
            Backend::S3 { client, bucket, .. } => {
                match client
                    .put_object()
                    .bucket(bucket)
                    .key(self.key(&file))
                    .if_none_match("*")
                    .content_type("application/json")
                    .body(text.into_bytes().into())
                    .send()
                    .await
                {
                    Ok(out) => Ok(Ok(out.e_tag().map(str::to_string))),
                    Err(e) if precondition_failed(&e) => Ok(Err(self.read_lock(key).await?)),
                    Err(e) => Err(s3_error("writing the lock to S3", &e)),
                }
            }
        }
    }

    /// The lock of a state, if held.
    pub async fn read_lock(&self, key: &str) -> Result<Option<LockInfo>, Diagnostic> {
        let file = format!("{key}.lock");
        let text = match self {
            Backend::Local { dir } => match std::fs::read_to_string(dir.join(&file)) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(backend_error("cannot read the lock", e)),
            },
            Backend::S3 { client, bucket, .. } => {
                match client
                    .get_object()
                    .bucket(bucket)
                    .key(self.key(&file))
                    .send()
                    .await
                {
                    Ok(out) => {
                        let bytes = out
                            .body
                            .collect()
                            .await
                            .map_err(|e| backend_error("reading the lock from S3", e))?
                            .into_bytes();
                        String::from_utf8_lossy(&bytes).into_owned()
                    }
                    Err(e)
                        if e.as_service_error().is_some_and(
                            aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key,
                        ) =>
                    {
                        return Ok(None);
                    }
                    Err(e) => return Err(s3_error("reading the lock from S3", &e)),
                }
            }
        };
        match serde_json::from_str(&text) {
            Ok(info) => Ok(Some(info)),
            // A lock being written this instant, or damaged: report it as
            // held by someone unknown, never as free.
            Err(_) => Ok(Some(LockInfo {
                id: "(unreadable)".into(),
                state: key.into(),
                holder: "unknown".into(),
                host: "unknown".into(),
                pid: 0,
                operation: "unknown".into(),
                created: now_rfc3339(),
                expires: rfc3339(SystemTime::now() + lease()),
            })),
        }
    }

    /// Extends this process's lease.
    pub async fn renew(&self, lock: &mut Lock) -> Result<(), Diagnostic> {
        lock.info.expires = rfc3339(SystemTime::now() + lease());
        let text = serde_json::to_string_pretty(&lock.info).expect("lock serialises") + "\n";
        let file = format!("{}.lock", lock.info.state);
        match self {
            Backend::Local { dir } => write_atomically(&dir.join(&file), text.as_bytes())
                .map_err(|e| backend_error("cannot renew the lock", e)),
            Backend::S3 { client, bucket, .. } => {
                let mut put = client
                    .put_object()
                    .bucket(bucket)
                    .key(self.key(&file))
                    .content_type("application/json")
                    .body(text.into_bytes().into());
                if let Some(etag) = &lock.etag {
                    put = put.if_match(etag);
                }
                let out = put
                    .send()
                    .await
                    .map_err(|e| s3_error("renewing the lock on S3", &e))?;
                lock.etag = out.e_tag().map(str::to_string);
                Ok(())
            }
        }
    }

    /// Releases this process's lock.
    pub async fn unlock(&self, lock: &Lock) -> Result<(), Diagnostic> {
        self.remove_lock(&lock.info.state, &lock.info.id).await
    }

    /// Removes the lock of `key` if its id is `id`.
    async fn remove_lock(&self, key: &str, id: &str) -> Result<(), Diagnostic> {
        let file = format!("{key}.lock");
        match self.read_lock(key).await? {
            Some(info) if info.id == id || id == "(unreadable)" => {}
            _ => return Ok(()),
        }
        match self {
            Backend::Local { dir } => match std::fs::remove_file(dir.join(&file)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(backend_error("cannot remove the lock", e)),
            },
            Backend::S3 { client, bucket, .. } => client
                .delete_object()
                .bucket(bucket)
                .key(self.key(&file))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| s3_error("removing the lock on S3", &e)),
        }
    }

    /// Removes a lock by its id, whoever holds it (`rel state unlock`).
    pub async fn force_unlock(&self, id: &str) -> Result<LockInfo, Diagnostic> {
        for key in self.list_names("lock").await? {
            if let Some(info) = self.read_lock(&key).await?
                && info.id == id
            {
                self.remove_lock(&key, id).await?;
                return Ok(info);
            }
        }
        Err(Diagnostic::error(
            codes::LOCK_NOT_FOUND,
            format!("no lock with id `{id}` in {}", self.describe()),
        )
        .with_help("The lock id is printed by the command that found the state locked; `rel state list` shows held locks."))
    }

    /// The keys of the states written (`ext` "json") or locked ("lock").
    pub async fn list_names(&self, ext: &str) -> Result<Vec<String>, Diagnostic> {
        let suffix = format!(".{ext}");
        let mut names = Vec::new();
        match self {
            Backend::Local { dir } => {
                let entries = match std::fs::read_dir(dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
                    Err(e) => return Err(backend_error("cannot list the states", e)),
                };
                for entry in entries.flatten() {
                    if let Some(name) = entry.file_name().to_str()
                        && let Some(key) = name.strip_suffix(&suffix)
                        && !key.contains(".tmp")
                    {
                        names.push(key.to_string());
                    }
                }
            }
            Backend::S3 {
                client,
                bucket,
                prefix,
            } => {
                let list_prefix = if prefix.is_empty() {
                    String::new()
                } else {
                    format!("{prefix}/")
                };
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&list_prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| s3_error("listing the states on S3", &e))?;
                    for object in page.contents() {
                        if let Some(key) = object.key()
                            && let Some(name) = key.strip_prefix(&list_prefix)
                            && let Some(name) = name.strip_suffix(&suffix)
                            && !name.contains('/')
                        {
                            names.push(name.to_string());
                        }
                    }
                }
            }
        }
        names.sort();
        Ok(names)
    }
}

/// The error for a state someone else holds.
pub fn locked(held: &LockInfo) -> Diagnostic {
    Diagnostic::error(
        codes::STATE_LOCKED,
        format!("state `{}` is locked: {}", held.state, held.describe()),
    )
    .with_help(format!(
        "Wait for that run to finish. If it died and its lease has not run out, `rel state unlock {}` removes the lock.",
        held.id
    ))
}

/// Writes through a temporary file in the same folder, fsync and a rename,
/// then syncs the folder: a reader sees the old file or the new one, never
/// half of one, even after a crash.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id(),
        random_hex(4)
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
