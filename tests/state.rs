//! The state backends through the library: conditional writes refuse a
//! writer that did not read the latest version, and locks (including the
//! takeover of a stale one) admit exactly one holder. Local folders, and
//! S3 on a moto server on loopback through the AWS SDK.

use std::path::{Path, PathBuf};

use rel::state::State;
use rel::state::backend::{Backend, LockInfo, Stored};

mod support;
use support::Moto;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn folder(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("state")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn s3_backend(moto: &Moto, prefix: &str) -> Backend {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new("t", "t", None, None, "test"),
        ))
        .build();
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    let _ = client.create_bucket().bucket("states").send().await;
    Backend::open(
        Some(&format!("s3://states/{prefix}")),
        Path::new("."),
        Some(&config),
    )
    .unwrap()
}

/// Two writers read the same version; the second to write is refused
/// (E0504) and the first one's state stays.
async fn a_stale_writer_is_refused(backend: &Backend) {
    let key = "rel-env-x";
    let first = State::new(rel::address::Layer::Environment("x".into()));
    let stored = backend
        .write(key, &Stored::new(first.clone()), &first)
        .await
        .expect("the first write of a new state");
    let a = backend.read(key).await.unwrap().unwrap();
    let b = backend.read(key).await.unwrap().unwrap();
    assert_eq!(a.state, stored.state);
    let mut next_a = a.state.clone();
    next_a.serial += 1;
    backend.write(key, &a, &next_a).await.expect("a writes");
    let mut next_b = b.state.clone();
    next_b.serial += 1;
    next_b.salt = "b's".into();
    let refused = backend
        .write(key, &b, &next_b)
        .await
        .expect_err("b is refused");
    assert_eq!(refused.code.id, "E0504", "{}", refused.message);
    assert_eq!(backend.read(key).await.unwrap().unwrap().state, next_a);
    // A second "first write" of a state that exists is refused too.
    let again = backend
        .write(key, &Stored::new(first.clone()), &first)
        .await
        .expect_err("not clobbered");
    assert_eq!(again.code.id, "E0504");
}

/// A live lock admits nobody else; a stale one (lease over) is taken over
/// by exactly one of two lockers, and released only by its holder.
async fn one_holder_at_a_time(backend: &Backend, plant_stale: impl Fn(&LockInfo)) {
    let key = "rel-env-y";
    let held = backend.lock(key, "apply").await.expect("free");
    let refused = backend.lock(key, "plan").await.expect_err("held");
    assert_eq!(refused.code.id, "E0501");
    assert!(
        refused.message.contains(&held.info.id),
        "{}",
        refused.message
    );
    backend.unlock(&held).await.unwrap();

    // A lock whose lease ran out, left by a process elsewhere.
    let mut stale = held.info.clone();
    stale.id = "deadbeef00000000".into();
    stale.machine = "another-machine".into();
    stale.expires = "2000-01-01T00:00:00Z".into();
    plant_stale(&stale);
    let first = backend
        .lock(key, "apply")
        .await
        .expect("stale lock taken over");
    assert!(
        first
            .took_over
            .as_deref()
            .unwrap()
            .contains("deadbeef00000000")
    );
    let second = backend.lock(key, "apply").await.expect_err("one holder");
    assert!(
        second.message.contains(&first.info.id),
        "{}",
        second.message
    );
    // Unlocking with someone else's lock does nothing.
    let mut impostor = backend.lock("rel-env-z", "apply").await.unwrap();
    impostor.info.state = key.into();
    backend.unlock(&impostor).await.unwrap();
    assert!(backend.lock(key, "apply").await.is_err(), "still held");
    backend.unlock(&first).await.unwrap();
    backend.lock(key, "apply").await.expect("free again");
}

#[test]
fn local_backend_refuses_stale_writers_and_shares_no_lock() {
    let dir = folder("local");
    let backend = Backend::open(Some(dir.to_str().unwrap()), Path::new("."), None).unwrap();
    let rt = runtime();
    rt.block_on(a_stale_writer_is_refused(&backend));
    rt.block_on(one_holder_at_a_time(&backend, |stale| {
        std::fs::write(
            dir.join("rel-env-y.lock"),
            serde_json::to_string(stale).unwrap(),
        )
        .unwrap();
    }));
    // An empty lock file (a crash mid-write by an older writer) is held
    // by someone unknown until its lease, counted from the file's time,
    // runs out.
    std::fs::write(dir.join("rel-env-w.lock"), "").unwrap();
    let refused = rt
        .block_on(backend.lock("rel-env-w", "apply"))
        .expect_err("held");
    assert!(
        refused.message.contains("(unreadable)"),
        "{}",
        refused.message
    );
}

#[test]
fn s3_backend_refuses_stale_writers_and_shares_no_lock() {
    let moto = Moto::start();
    let rt = runtime();
    let backend = rt.block_on(s3_backend(&moto, "team"));
    rt.block_on(a_stale_writer_is_refused(&backend));
    let endpoint = moto.endpoint.clone();
    rt.block_on(one_holder_at_a_time(&backend, |stale| {
        let text = serde_json::to_string(stale).unwrap();
        support::boto(
            &endpoint,
            "s3",
            "c.put_object(Bucket='states',Key='team/rel-env-y.lock',Body=sys.argv[2].encode())",
            &[&text],
        );
    }));
}
