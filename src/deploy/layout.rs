//! Where a project's states are: the keys its environments' names give,
//! and the keys of layers written before projects (`rel-shared`,
//! `rel-env-NAME`), which keep their names so an upgrade recreates
//! nothing.

use crate::address::Layer;
use crate::diagnostic::Diagnostic;
use crate::identity::{LEGACY_SHARED, ProjectName, legacy_environment_key};
use crate::state::State;
use crate::state::backend::Backend;

/// Which of an environment's layers were written before projects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Legacy {
    pub shared: bool,
    pub environment: bool,
}

/// A state written before projects records no names.
fn is_legacy(state: &State) -> bool {
    state.names.is_none()
}

/// Whether the environment `name` of app `app` has layers whose states
/// were written before projects. Such states record no project, so a
/// layer counts only when it was applied from the same app (its recorded
/// template's description names the app): the environment's own
/// `rel-env-NAME`, and `rel-shared`, which before projects one folder or
/// prefix could hold only once.
pub async fn legacy_layout(backend: &Backend, app: &str, name: &str) -> Result<Legacy, Diagnostic> {
    let same_app = |state: &State| {
        state.stack.as_ref().is_none_or(|stack| {
            stack.template["Description"]
                .as_str()
                .is_none_or(|d| d.starts_with(&format!("rel {app}:")))
        })
    };
    let shared = backend
        .read(LEGACY_SHARED)
        .await?
        .is_some_and(|s| is_legacy(&s.state) && s.state.layer.is_shared() && same_app(&s.state));
    let environment = backend
        .read(&legacy_environment_key(name))
        .await?
        .is_some_and(|s| {
            is_legacy(&s.state)
                && s.state.layer == Layer::Environment(name.to_string())
                && same_app(&s.state)
        });
    Ok(Legacy {
        shared,
        environment,
    })
}

/// One environment with state.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// The environment's name.
    pub name: String,
    /// Its state's key.
    pub key: String,
    /// Its shared layer's state key.
    pub shared_key: String,
    pub state: State,
}

/// Every environment of `project` that has state (and every one written
/// before projects), sorted by name.
pub async fn environments(
    backend: &Backend,
    project: Option<&ProjectName>,
) -> Result<Vec<Recorded>, Diagnostic> {
    let mut out = Vec::new();
    for key in backend.list_names("json").await? {
        let Some(stored) = backend.read(&key).await? else {
            continue;
        };
        let Layer::Environment(name) = &stored.state.layer else {
            continue;
        };
        let shared_key = match &stored.state.names {
            Some(n) if Some(&n.identity.project) == project => n.shared.clone(),
            Some(_) => continue,
            None => LEGACY_SHARED.to_string(),
        };
        out.push(Recorded {
            name: name.to_string(),
            key,
            shared_key,
            state: stored.state,
        });
    }
    out.sort_by(|a, b| (&a.name, &a.key).cmp(&(&b.name, &b.key)));
    Ok(out)
}
