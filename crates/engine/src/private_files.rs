//! The agent's folder and files are its own: the folder 0700, every file 0600 on Unix; on
//! Windows the equivalent is a protected access list (nothing inherited from the parent)
//! granting full control to the owner, SYSTEM and the Administrators only — a folder under
//! `%ProgramData%` is otherwise readable by every user of the PC. The database holds no
//! secret, but it does hold the site's records and what the agent knows of its server.

use std::path::Path;

/// Creates `dir` (and its parents) if missing, and makes it readable by its owner only.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    restrict(dir, 0o700)
}

/// Makes `path` readable by its owner only, creating it empty if missing (so whatever writes
/// it next, SQLite included, never makes it readable by others first).
pub fn private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?;
    restrict(path, 0o600)
}

/// Makes an existing `path` readable by its owner only; a missing one is fine.
pub fn restrict_if_present(path: &Path) -> std::io::Result<()> {
    match restrict(path, 0o600) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// The Windows counterpart of `chmod 0700`/`0600`: a protected DACL for Owner Rights, SYSTEM
/// and the Administrators (folders pass it on to what is created inside them).
#[cfg(windows)]
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::Security::Authorization::{
        ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
    };
    use windows_sys::Win32::Security::{
        SetFileSecurityW, DACL_SECURITY_INFORMATION, PROTECTED_DACL_SECURITY_INFORMATION,
        PSECURITY_DESCRIPTOR,
    };
    // OICI: inherited by files and folders inside; a file's own list needs no inheritance.
    let sddl = if mode & 0o100 != 0 {
        "D:P(A;OICI;FA;;;OW)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
    } else {
        "D:P(A;;FA;;;OW)(A;;FA;;;SY)(A;;FA;;;BA)"
    };
    let wide = |s: &std::ffi::OsStr| s.encode_wide().chain([0]).collect::<Vec<u16>>();
    let (sddl, path) = (wide(sddl.as_ref()), wide(path.as_os_str()));
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: both strings are NUL-terminated UTF-16 that outlive the calls; the descriptor
    // the first call allocates is freed with LocalFree, as its documentation asks.
    unsafe {
        if ConvertStringSecurityDescriptorToSecurityDescriptorW(
            sddl.as_ptr(),
            SDDL_REVISION_1,
            &mut descriptor,
            std::ptr::null_mut(),
        ) == 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let set = SetFileSecurityW(
            path.as_ptr(),
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            descriptor,
        );
        let error = std::io::Error::last_os_error();
        LocalFree(descriptor as _);
        if set == 0 {
            return Err(error);
        }
    }
    Ok(())
}

#[cfg(not(any(unix, windows)))]
fn restrict(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
