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

use super::{State, parse_rfc3339, random_hex, rfc3339};
use crate::atomic_file::write_atomically;
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
    /// This boot of this machine and its process namespace: a pid means
    /// something only there (containers may share a host name).
    #[serde(default)]
    pub machine: String,
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
        if !self.machine.is_empty() && self.machine == machine_id() && !process_alive(self.pid) {
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

/// `s3://BUCKET/PREFIX` → (bucket, prefix without surrounding slashes);
/// None without a bucket.
pub fn s3_location(spec: &str) -> Option<(String, String)> {
    let rest = spec.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then(|| (bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// An S3 client on the SDK configuration, with path-style addressing
/// (which any endpoint, local ones included, understands).
pub fn s3_client(config: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// How long a lock's lease lasts (renewed at a third of it);
/// `REL_LOCK_LEASE_SECONDS` changes it.
pub fn lease() -> Duration {
    let secs = std::env::var("REL_LOCK_LEASE_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|s| (3..=86_400).contains(s))
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

/// The boot id and pid namespace of this process: where its pids mean
/// something. Empty where they cannot be read (then only leases decide).
fn machine_id() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if boot.trim().is_empty() || ns.is_empty() {
        String::new()
    } else {
        format!("{}:{ns}", boot.trim())
    }
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
                let Some((bucket, prefix)) = s3_location(s) else {
                    return Err(Diagnostic::error(
                        codes::BACKEND_INVALID,
                        format!("`{s}` names no bucket"),
                    )
                    .with_help("Write --state s3://BUCKET/PREFIX."));
                };
                let config = config.expect("an AWS configuration for the S3 backend");
                Ok(Backend::S3 {
                    client: s3_client(config),
                    bucket,
                    prefix,
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

    fn is_local(&self) -> bool {
        matches!(self, Backend::Local { .. })
    }

    fn key(&self, name: &str) -> String {
        match self {
            Backend::S3 { prefix, .. } if !prefix.is_empty() => format!("{prefix}/{name}"),
            _ => name.to_string(),
        }
    }

    /// An S3 object's bytes, ETag and modification time; None if absent.
    async fn s3_get(
        &self,
        file: &str,
        what: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>, Option<SystemTime>)>, Diagnostic> {
        let Backend::S3 { client, bucket, .. } = self else {
            unreachable!("called for the S3 backend");
        };
        let reading = format!("reading {what} from S3");
        match client
            .get_object()
            .bucket(bucket)
            .key(self.key(file))
            .send()
            .await
        {
            Ok(out) => {
                let etag = out.e_tag().map(str::to_string);
                let modified = out
                    .last_modified()
                    .and_then(|t| SystemTime::try_from(*t).ok());
                let bytes = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| backend_error(&reading, e))?
                    .into_bytes();
                Ok(Some((bytes.to_vec(), etag, modified)))
            }
            Err(e)
                if e.as_service_error().is_some_and(
                    aws_sdk_s3::operation::get_object::GetObjectError::is_no_such_key,
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(s3_error(&reading, &e)),
        }
    }

    /// Writes an S3 object only if it is still the version `etag` (or,
    /// without one, only if absent); returns the new ETag.
    async fn s3_put(
        &self,
        file: &str,
        text: String,
        etag: Option<&str>,
    ) -> Result<
        Option<String>,
        aws_sdk_s3::error::SdkError<
            aws_sdk_s3::operation::put_object::PutObjectError,
            aws_sdk_s3::config::http::HttpResponse,
        >,
    > {
        let Backend::S3 { client, bucket, .. } = self else {
            unreachable!("called for the S3 backend");
        };
        let put = client
            .put_object()
            .bucket(bucket)
            .key(self.key(file))
            .content_type("application/json")
            .body(text.into_bytes().into());
        let put = match etag {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        put.send().await.map(|out| out.e_tag().map(str::to_string))
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
            Backend::S3 { .. } => match self.s3_get(&file, "the state").await? {
                None => return Ok(None),
                Some((bytes, etag, _)) => {
                    let text = String::from_utf8(bytes)
                        .map_err(|_| state_error(format!("`{}` is not UTF-8", self.key(&file))))?;
                    (text, etag)
                }
            },
        };
        let state = State::from_json(&text).map_err(|e| {
            state_error(format!("state `{}` in {}: {e}", file, self.describe()))
                .with_help("Restore the file from a backup, or move it aside to start a new history (rel then forgets what it created).")
        })?;
        let etag = etag.or_else(|| self.is_local().then(|| local_version(&state)));
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
                // The version on disk must be the one read (none: absent).
                let current = match std::fs::read_to_string(&path) {
                    Ok(t) => Some(
                        State::from_json(&t)
                            .map(|s| local_version(&s))
                            .unwrap_or_default(),
                    ),
                    Err(_) => None,
                };
                if current != previous.etag {
                    return Err(conflict());
                }
                write_atomically(&path, text.as_bytes())
                    .map_err(|e| backend_error(&format!("cannot write `{}`", path.display()), e))?;
                Ok(Stored {
                    state: state.clone(),
                    etag: Some(local_version(state)),
                })
            }
            Backend::S3 { .. } => match self.s3_put(&file, text, previous.etag.as_deref()).await {
                Ok(etag) => Ok(Stored {
                    state: state.clone(),
                    etag,
                }),
                Err(e) if precondition_failed(&e) => Err(conflict()),
                Err(e) => Err(s3_error("writing the state to S3", &e)),
            },
        }
    }

    /// Takes the lock of a state, or fails at once naming its holder. A
    /// stale lock is taken over, conditionally: if another process took
    /// it over first, that one holds it.
    pub async fn lock(&self, key: &str, operation: &str) -> Result<Lock, Diagnostic> {
        let mut took_over = None;
        for _ in 0..3 {
            let now = SystemTime::now();
            let info = LockInfo {
                id: random_hex(8),
                state: key.to_string(),
                holder: user_name(),
                host: host_name(),
                pid: std::process::id(),
                machine: machine_id(),
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
                Err(None) => continue,
                Err(Some((held, etag))) => {
                    let Some(why) = held.stale() else {
                        return Err(locked(&held));
                    };
                    if self.break_lock(key, &held, etag.as_deref()).await? {
                        took_over = Some(format!("took over stale {} ({why})", held.describe()));
                    }
                }
            }
        }
        Err(Diagnostic::error(
            codes::STATE_LOCKED,
            format!("state `{key}` is being locked by another process right now"),
        )
        .with_help("Try again in a moment."))
    }

    /// Creates the lock object only if absent, whole or not at all:
    /// `Ok(Ok(etag))` when taken, `Ok(Err(holder))` when someone holds it
    /// (None: gone while reading).
    async fn create_lock(
        &self,
        key: &str,
        info: &LockInfo,
    ) -> Result<Result<Option<String>, Option<(LockInfo, Option<String>)>>, Diagnostic> {
        let file = format!("{key}.lock");
        let text = serde_json::to_string_pretty(info).expect("lock serialises") + "\n";
        match self {
            Backend::Local { dir } => {
                let path = dir.join(&file);
                // Written aside, then linked into place: a reader never
                // sees an empty or partial lock.
                let tmp = dir.join(format!(".{file}.new-{}", random_hex(4)));
                write_atomically(&tmp, text.as_bytes())
                    .map_err(|e| backend_error("cannot write the lock", e))?;
                let linked = std::fs::hard_link(&tmp, &path);
                let _ = std::fs::remove_file(&tmp);
                match linked {
                    Ok(()) => Ok(Ok(None)),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        Ok(Err(self.read_lock(key).await?))
                    }
                    Err(e) => Err(backend_error(
                        &format!("cannot create `{}`", path.display()),
                        e,
                    )),
                }
            }
            Backend::S3 { .. } => match self.s3_put(&file, text, None).await {
                Ok(etag) => Ok(Ok(etag)),
                Err(e) if precondition_failed(&e) => Ok(Err(self.read_lock(key).await?)),
                Err(e) => Err(s3_error("writing the lock to S3", &e)),
            },
        }
    }

    /// Removes a stale lock if it is still the one judged stale; false if
    /// someone else replaced it meanwhile.
    async fn break_lock(
        &self,
        key: &str,
        held: &LockInfo,
        etag: Option<&str>,
    ) -> Result<bool, Diagnostic> {
        let file = format!("{key}.lock");
        match self {
            Backend::Local { dir } => {
                // Moved aside atomically, then checked: if it was not the
                // stale lock, it is put back.
                let path = dir.join(&file);
                let aside = dir.join(format!(".{file}.stale-{}", random_hex(4)));
                match std::fs::rename(&path, &aside) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                    Err(e) => return Err(backend_error("cannot remove the stale lock", e)),
                }
                let moved: Option<LockInfo> = std::fs::read_to_string(&aside)
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok());
                let same = match &moved {
                    Some(m) => m.id == held.id,
                    None => held.id == UNREADABLE,
                };
                if !same {
                    let _ = std::fs::hard_link(&aside, &path);
                }
                let _ = std::fs::remove_file(&aside);
                Ok(same)
            }
            Backend::S3 { client, bucket, .. } => {
                let mut delete = client.delete_object().bucket(bucket).key(self.key(&file));
                if let Some(etag) = etag {
                    delete = delete.if_match(etag);
                }
                match delete.send().await {
                    Ok(_) => Ok(true),
                    Err(e) if precondition_failed(&e) => Ok(false),
                    Err(e) => Err(s3_error("removing the stale lock on S3", &e)),
                }
            }
        }
    }

    /// The lock of a state, if held, with its version (S3 ETag).
    pub async fn read_lock(
        &self,
        key: &str,
    ) -> Result<Option<(LockInfo, Option<String>)>, Diagnostic> {
        let file = format!("{key}.lock");
        let (text, etag, modified) = match self {
            Backend::Local { dir } => {
                let path = dir.join(&file);
                match std::fs::read_to_string(&path) {
                    Ok(t) => {
                        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                        (t, None, modified)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(backend_error("cannot read the lock", e)),
                }
            }
            Backend::S3 { .. } => match self.s3_get(&file, "the lock").await? {
                None => return Ok(None),
                Some((bytes, etag, modified)) => {
                    (String::from_utf8_lossy(&bytes).into_owned(), etag, modified)
                }
            },
        };
        match serde_json::from_str(&text) {
            Ok(info) => Ok(Some((info, etag))),
            // A damaged lock: held by someone unknown, never free, with a
            // lease counted from when it was written.
            Err(_) => {
                let written = modified.unwrap_or_else(SystemTime::now);
                Ok(Some((
                    LockInfo {
                        id: UNREADABLE.into(),
                        state: key.into(),
                        holder: "unknown".into(),
                        host: "unknown".into(),
                        pid: 0,
                        machine: String::new(),
                        operation: "unknown".into(),
                        created: rfc3339(written),
                        expires: rfc3339(written + lease()),
                    },
                    etag,
                )))
            }
        }
    }

    /// Extends this process's lease; an error means the lock is no longer
    /// this process's.
    pub async fn renew(&self, lock: &mut Lock) -> Result<(), Diagnostic> {
        let mut info = lock.info.clone();
        info.expires = rfc3339(SystemTime::now() + lease());
        let text = serde_json::to_string_pretty(&info).expect("lock serialises") + "\n";
        let file = format!("{}.lock", lock.info.state);
        let lost = || {
            Diagnostic::error(
                codes::STATE_LOCKED,
                format!("the lock of `{}` was taken away while this run held it", lock.info.state),
            )
            .with_help("Someone removed it (`rel state unlock`) or took it over; this run stops before changing more.")
        };
        match self {
            Backend::Local { dir } => {
                match self.read_lock(&lock.info.state).await? {
                    Some((held, _)) if held.id == lock.info.id => {}
                    _ => return Err(lost()),
                }
                write_atomically(&dir.join(&file), text.as_bytes())
                    .map_err(|e| backend_error("cannot renew the lock", e))?;
            }
            Backend::S3 { .. } => {
                lock.etag = match self.s3_put(&file, text, lock.etag.as_deref()).await {
                    Ok(etag) => etag,
                    Err(e) if precondition_failed(&e) => return Err(lost()),
                    Err(e) => return Err(s3_error("renewing the lock on S3", &e)),
                };
            }
        }
        lock.info = info;
        Ok(())
    }

    /// Releases this process's lock (only if it is still this process's).
    pub async fn unlock(&self, lock: &Lock) -> Result<(), Diagnostic> {
        match self.read_lock(&lock.info.state).await? {
            Some((held, etag)) if held.id == lock.info.id => self
                .break_lock(
                    &lock.info.state,
                    &held,
                    etag.as_deref().or(lock.etag.as_deref()),
                )
                .await
                .map(|_| ()),
            _ => Ok(()),
        }
    }

    /// Removes a lock by its id, whoever holds it (`rel state unlock`).
    pub async fn force_unlock(&self, id: &str) -> Result<LockInfo, Diagnostic> {
        for key in self.list_names("lock").await? {
            if let Some((info, etag)) = self.read_lock(&key).await?
                && info.id == id
            {
                self.break_lock(&key, &info, etag.as_deref()).await?;
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

/// A local state's version token: its lineage and serial.
fn local_version(state: &State) -> String {
    format!("{}:{}", state.lineage, state.serial)
}

/// The id shown for a lock whose file cannot be read.
pub const UNREADABLE: &str = "(unreadable)";

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
