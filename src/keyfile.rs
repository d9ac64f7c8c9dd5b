//! Where the server key comes from: `SECRET_KEY`, or a key file (`SECRET_KEY_FILE`, by default
//! beside the SQLite database, or `./scorekeeper.key` with PostgreSQL) that is generated on
//! first start with mode 0600. The key never goes into the database, so a copy of the
//! database alone cannot rebuild the link of any invitation.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use secrecy::ExposeSecret;

use crate::config::{DatabaseUrl, Settings, MIN_SECRET_KEY_CHARS};
use crate::db::{self, DbPool};
use crate::domain::secret::ServerKey;

/// The key file used when `SECRET_KEY_FILE` is not set: `<sqlite file>.key` beside an SQLite
/// database; `scorekeeper.key` in the working directory with PostgreSQL (several instances
/// on one database must share one key: set `SECRET_KEY` or `SECRET_KEY_FILE` for them).
pub fn default_path(database_url: &DatabaseUrl) -> PathBuf {
    match database_url {
        DatabaseUrl::Sqlite(path) => PathBuf::from(format!("{path}.key")),
        DatabaseUrl::Postgres(_) => PathBuf::from("scorekeeper.key"),
    }
}

/// Loads the server key as the settings say, creating the key file on first start. A key that
/// an earlier version kept in the database is moved into the new file, so the links of emails
/// already queued keep working.
pub fn load(settings: &Settings, pool: &DbPool) -> anyhow::Result<ServerKey> {
    if let Some(secret) = &settings.secret_key {
        return Ok(ServerKey::from_secret(secret.expose_secret()));
    }
    let path = settings
        .secret_key_file
        .clone()
        .unwrap_or_else(|| default_path(&settings.database_url));
    if let Some(secret) = read(&path)? {
        return Ok(ServerKey::from_secret(&secret));
    }
    let mut conn = pool.get().context("cannot check out a connection")?;
    let legacy = db::secrets::legacy_link_key(&mut conn).context("cannot read the old key")?;
    let secret = legacy.clone().unwrap_or_else(ServerKey::generate_secret);
    let secret = create(&path, &secret)?;
    if legacy.is_some() {
        db::secrets::forget_legacy_link_key(&mut conn)
            .context("cannot delete the old key from the database")?;
        tracing::info!(path = %path.display(), "moved the server key out of the database into its key file");
    } else {
        tracing::info!(path = %path.display(), "generated the server key file; back it up with the database");
    }
    Ok(ServerKey::from_secret(&secret))
}

/// The secret in `path`, if the file exists.
fn read(path: &Path) -> anyhow::Result<Option<String>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(err)
                .with_context(|| format!("cannot read SECRET_KEY_FILE {}", path.display()))
        }
    };
    let secret = text.trim().to_owned();
    if secret.chars().count() < MIN_SECRET_KEY_CHARS {
        bail!(
            "SECRET_KEY_FILE {} must hold at least {MIN_SECRET_KEY_CHARS} characters",
            path.display()
        );
    }
    warn_if_readable_by_others(path);
    Ok(Some(secret))
}

/// Writes `secret` to a new file at `path` with mode 0600, atomically: a complete file or
/// none. If another instance created it first, its key wins and is returned.
fn create(path: &Path, secret: &str) -> anyhow::Result<String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        std::process::id()
    ));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot create the key file in {}", dir.display()))?;
    file.write_all(format!("{secret}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    // A hard link fails if the target exists, so two instances starting at once agree.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(secret.to_owned()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            read(path)?.context("the key file vanished while it was being created")
        }
        Err(err) => Err(err).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the key file is readable by other users; chmod 600 it");
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_file_sits_beside_the_sqlite_file() {
        let url = DatabaseUrl::parse("sqlite:///data/scorekeeper.db").unwrap();
        assert_eq!(
            default_path(&url),
            PathBuf::from("/data/scorekeeper.db.key")
        );
        let url = DatabaseUrl::parse("postgres://u@db/x").unwrap();
        assert_eq!(default_path(&url), PathBuf::from("scorekeeper.key"));
    }

    #[test]
    fn a_created_key_file_is_private_and_the_first_writer_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let first = "a".repeat(43);
        assert_eq!(create(&path, &first).unwrap(), first);
        assert_eq!(create(&path, &"b".repeat(43)).unwrap(), first);
        assert_eq!(read(&path).unwrap(), Some(first));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        fs::write(&path, "short").unwrap();
        assert!(read(&path)
            .unwrap_err()
            .to_string()
            .contains("SECRET_KEY_FILE"));
    }
}
