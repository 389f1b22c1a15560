//! A keychain of a story's own: a D-Bus session bus with a Secret Service (gnome-keyring) on
//! it, which the story can freeze (`SIGSTOP`: the daemon takes calls and never answers) and
//! thaw, without touching the keychain every other test shares.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use crate::send_signal;

pub struct PrivateKeychain {
    /// The bus's address, for `DBUS_SESSION_BUS_ADDRESS`.
    pub address: String,
    bus: Child,
    keyring_pid: i32,
    _home: tempfile::TempDir,
}

impl PrivateKeychain {
    /// A bus of its own and an unlocked login keyring on it.
    pub fn start() -> Self {
        let bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus; scripts/test.sh installs it)");
        // Should anything below fail, the bus goes with the story (and a keyring daemon on it
        // leaves with its bus).
        let mut bus = EndsWithTheStory(Some(bus));
        let mut address = String::new();
        BufReader::new(bus.child().stdout.take().expect("bus stdout"))
            .read_line(&mut address)
            .expect("the bus prints its address");
        let address = address.trim().to_owned();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        // Its own data and control folders, and no pointer to the shared daemon, so a
        // second daemon starts rather than unlocking the first one.
        let home = tempfile::tempdir().expect("keyring home");
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("XDG_DATA_HOME", home.path())
            .env("XDG_RUNTIME_DIR", home.path())
            .env_remove("GNOME_KEYRING_CONTROL")
            .env_remove("GNOME_KEYRING_PID")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (scripts/test.sh installs gnome-keyring)");
        keyring
            .stdin
            .take()
            .expect("keyring stdin")
            .write_all(b"a story's own keyring password")
            .expect("password written");
        let started = keyring.wait_with_output().expect("gnome-keyring-daemon");
        assert!(
            started.status.success(),
            "gnome-keyring-daemon failed to start"
        );
        // It prints no pid: the bus knows which process holds the Secret Service's name.
        let keyring_pid = (0..50)
            .find_map(|_| {
                let pid = secret_service_pid(&address);
                if pid.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                pid
            })
            .expect("gnome-keyring-daemon took the Secret Service's name on the bus");
        Self {
            address,
            bus: bus.0.take().expect("the bus"),
            keyring_pid,
            _home: home,
        }
    }

    /// The Secret Service still takes calls, and answers none of them.
    pub fn freeze(&self) {
        send_signal(self.keyring_pid, libc::SIGSTOP);
    }

    pub fn thaw(&self) {
        send_signal(self.keyring_pid, libc::SIGCONT);
    }
}

impl Drop for PrivateKeychain {
    fn drop(&mut self) {
        self.thaw();
        send_signal(self.keyring_pid, libc::SIGTERM);
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// A child process killed when dropped, unless taken out.
struct EndsWithTheStory(Option<Child>);

impl EndsWithTheStory {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child")
    }
}

impl Drop for EndsWithTheStory {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The pid of the process owning `org.freedesktop.secrets` on the bus at `address`.
fn secret_service_pid(address: &str) -> Option<i32> {
    let out = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.GetConnectionUnixProcessID",
            "string:org.freedesktop.secrets",
        ])
        .env("DBUS_SESSION_BUS_ADDRESS", address)
        .output()
        .ok()?;
    let reply = String::from_utf8_lossy(&out.stdout);
    reply
        .split_whitespace()
        .skip_while(|word| *word != "uint32")
        .nth(1)?
        .parse()
        .ok()
}
