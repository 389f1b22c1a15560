//! `kendrix admin …`: the admin credential kept beside the site's, and the sites it sees.

use clap::Subcommand;
use kendrix_core::clock::format_utc;
use kendrix_core::enrollment::Enrollment;
use kendrix_engine::{Engine, SiteSummary};

use crate::{argument_or_stdin, exit};

#[derive(Subcommand)]
pub(crate) enum AdminCommand {
    /// Keep an admin credential on this PC, beside the site's enrollment.
    ///
    /// The enrollment string of a client registered with
    /// `kendrix-server client register --scopes "clients:admin …"`. It is checked against the
    /// server; the site's enrollment and queue are not touched. Prefer stdin (`-` or no
    /// argument): an argument is visible in `ps`. The server must be https://, except on this
    /// machine.
    Enroll {
        /// The `kendrix1:…` enrollment string; `-` or omitted reads it from stdin.
        enrollment: Option<String>,
    },
    /// The sites of the admin's tenant, those needing attention first.
    ///
    /// A table of NAME, STATUS, LAST SEEN, QUEUE and NEEDS ATTENTION, as the server sees
    /// them (QUEUE is from each site's last heartbeat).
    Sites {
        /// Print the sites as a JSON array (every field the server sent).
        #[arg(long)]
        json: bool,
    },
    /// Forget the admin credential (keychain and record); the site's enrollment stays.
    SignOut,
}

/// Runs one `kendrix admin` command.
pub(crate) async fn run(engine: &Engine, command: AdminCommand) -> anyhow::Result<u8> {
    match command {
        AdminCommand::Enroll { enrollment } => {
            let text = argument_or_stdin(enrollment, "the admin enrollment string")?;
            let report = engine.admin_enroll(&Enrollment::decode(&text)?).await?;
            println!(
                "admin credential kept for client {} with {}; the secret is in the OS keychain (the site's enrollment is unchanged)",
                report.client_id, report.server
            );
            if let Some(n) = report.sites {
                println!("it sees {n} site(s): run `kendrix admin sites`");
            }
            if let Some(note) = report.note {
                println!("note: {note}");
            }
        }
        AdminCommand::Sites { json } => {
            let sites = engine.admin_sites().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sites)?);
            } else if sites.is_empty() {
                println!("no sites yet");
            } else {
                print!("{}", sites_table(&sites));
            }
        }
        AdminCommand::SignOut => match engine.admin_sign_out().await? {
            Some(admin) => println!(
                "signed out: the admin credential of client {} with {} is forgotten; the site's enrollment stays",
                admin.client_id, admin.server
            ),
            None => println!("no admin credential on this PC; nothing to sign out"),
        },
    }
    Ok(exit::ALL_SYNCED)
}

/// The sites as a table: NAME, STATUS, LAST SEEN, QUEUE, NEEDS ATTENTION.
fn sites_table(sites: &[SiteSummary]) -> String {
    let rows: Vec<[String; 5]> = sites
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                s.status.clone(),
                s.last_seen_ms.map_or("never".into(), format_utc),
                s.queue_depth.map_or("-".into(), |n| n.to_string()),
                if s.needs_attention.is_empty() {
                    "-".into()
                } else {
                    s.needs_attention.join("; ")
                },
            ]
        })
        .collect();
    let header = ["NAME", "STATUS", "LAST SEEN", "QUEUE", "NEEDS ATTENTION"].map(String::from);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, width))| match i {
                4 => cell.clone(),
                3 => format!("{cell:>width$}"),
                _ => format!("{cell:<width$}"),
            })
            .collect();
        table.push_str(cells.join("  ").trim_end());
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sites_table_has_a_column_for_each_thing_an_admin_checks() {
        let sites = [
            SiteSummary {
                name: "Store 99".into(),
                status: "active".into(),
                needs_attention: vec!["never synced".into()],
                ..SiteSummary::default()
            },
            SiteSummary {
                name: "Store 7".into(),
                status: "active".into(),
                last_seen_ms: Some(1_732_838_400_123),
                queue_depth: Some(50),
                ..SiteSummary::default()
            },
        ];
        assert_eq!(
            sites_table(&sites),
            "NAME      STATUS  LAST SEEN                QUEUE  NEEDS ATTENTION\n\
             Store 99  active  never                        -  never synced\n\
             Store 7   active  2024-11-29 00:00:00 UTC     50  -\n"
        );
    }
}
