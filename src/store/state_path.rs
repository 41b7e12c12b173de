//! Where a store lives when the user names none: the XDG state directory, which is
//! per user and survives reboots (unlike `$XDG_RUNTIME_DIR`) but is not a cache
//! that may be cleared under a running job.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The database file under the state directory.
const RELATIVE: &str = "joblock/locks.db";

/// `$XDG_STATE_HOME/joblock/locks.db`, else `$HOME/.local/state/joblock/locks.db`.
///
/// A variable that is unset, empty or relative is skipped (the XDG base directory
/// specification says relative values are to be ignored); the error names both.
pub fn default_state_path() -> Result<PathBuf, String> {
    state_path_from(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
}

/// [`default_state_path`] for the given variable values, so it can be tested
/// without changing the process environment.
fn state_path_from(
    xdg_state_home: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, String> {
    let absolute = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(state) = absolute(xdg_state_home) {
        return Ok(state.join(RELATIVE));
    }
    if let Some(home) = absolute(home) {
        return Ok(home.join(".local/state").join(RELATIVE));
    }
    Err(format!(
        "no default store: neither $XDG_STATE_HOME nor $HOME is set to an absolute path \
         (name one with --store sqlite:///path/{})",
        Path::new(RELATIVE).display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(xdg: Option<&str>, home: Option<&str>) -> Result<PathBuf, String> {
        state_path_from(xdg.map(OsString::from), home.map(OsString::from))
    }

    #[test]
    fn xdg_state_home_comes_first_then_home() {
        assert_eq!(
            path(Some("/s"), Some("/h")),
            Ok(PathBuf::from("/s/joblock/locks.db"))
        );
        assert_eq!(
            path(None, Some("/home/u")),
            Ok(PathBuf::from("/home/u/.local/state/joblock/locks.db"))
        );
    }

    #[test]
    fn empty_or_relative_values_are_skipped() {
        assert_eq!(
            path(Some(""), Some("/h")),
            Ok(PathBuf::from("/h/.local/state/joblock/locks.db"))
        );
        assert_eq!(
            path(Some("rel"), Some("/h")),
            Ok(PathBuf::from("/h/.local/state/joblock/locks.db"))
        );
    }

    #[test]
    fn without_either_the_error_names_both_variables() {
        for (xdg, home) in [(None, None), (Some("rel"), Some("")), (None, Some("home"))] {
            let msg = path(xdg, home).unwrap_err();
            assert!(
                msg.contains("$XDG_STATE_HOME") && msg.contains("$HOME"),
                "{msg}"
            );
        }
    }
}
