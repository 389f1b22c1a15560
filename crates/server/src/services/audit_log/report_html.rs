//! The compliance report as one self-contained, printable HTML page (no script, no link
//! outside it): a table of contents, then a section per figure of the evidence.

use std::fmt::Write as _;

use kendrix_core::clock::format_utc;

use super::report::SignedEvidence;

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#1b1f24;margin:2rem auto;max-width:60rem;padding:0 1rem}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ccd;padding:.3rem .5rem;text-align:left;vertical-align:top}\
th{background:#f2f4f7}td{overflow-wrap:break-word}td.hash{overflow-wrap:anywhere;font:12px monospace}td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#5b6470}\
.ok{color:#116329;font-weight:600}.bad{color:#a40e26;font-weight:600}code{font-size:12px;white-space:nowrap}code.hash{white-space:normal;overflow-wrap:anywhere}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}";

/// The sections, in order: (anchor, title).
pub const SECTIONS: [(&str, &str); 7] = [
    ("sign-ins", "Sign-ins and failures per site"),
    ("tokens", "Tokens issued and revoked"),
    ("sites", "Site registrations, rotations and revocations"),
    ("config", "Configuration changes"),
    ("alerts", "Alerts opened and resolved"),
    ("chain", "Audit chain verification"),
    ("evidence", "Evidence"),
];

pub fn render(signed: &SignedEvidence) -> String {
    let e = &signed.evidence;
    let f = &e.figures;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Compliance report: {tenant}</title><style>{STYLE}</style></head><body>\
         <h1>Compliance report: {tenant}</h1><p class=\"muted\">Period {since} to {until} · tenant {id} · generated {generated} · {entries} audit entries</p>",
        tenant = esc(&e.tenant_name),
        since = format_utc(f.since),
        until = format_utc(f.until),
        id = f.tenant_id,
        generated = format_utc(e.generated_at),
        entries = f.entries,
    );
    h.push_str("<nav><h2 id=\"contents\">Contents</h2><ol>");
    for (anchor, title) in SECTIONS {
        let _ = write!(h, "<li><a href=\"#{anchor}\">{title}</a></li>");
    }
    h.push_str("</ol></nav>");

    section(&mut h, 0);
    if f.sign_ins.is_empty() {
        h.push_str("<p class=\"muted\">No sign-ins in the period.</p>");
    } else {
        h.push_str(
            "<table><tr><th>Site</th><th>Client id</th><th>Signed in</th><th>Failed</th></tr>",
        );
        for (client, s) in &f.sign_ins {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(f
                    .site_names
                    .get(client)
                    .map_or("(unknown client)", String::as_str)),
                esc(client),
                s.succeeded,
                s.failed
            );
        }
        h.push_str("</table>");
    }

    section(&mut h, 1);
    let _ = write!(
        h,
        "<table><tr><th>Issued</th><th>Revoked</th></tr><tr><td class=\"n\">{}</td><td class=\"n\">{}</td></tr></table>",
        f.tokens_issued, f.tokens_revoked
    );

    section(&mut h, 2);
    rows(
        &mut h,
        &["When", "What", "Site", "By"],
        f.site_changes.iter().map(|c| {
            vec![
                format_utc(c.at),
                c.event.clone(),
                match f.site_names.get(&c.site) {
                    Some(name) => format!("{name} ({})", c.site),
                    None => c.site.clone(),
                },
                c.by.clone(),
            ]
        }),
        "No site was registered, rotated or revoked in the period.",
    );

    section(&mut h, 3);
    rows(
        &mut h,
        &["When", "Change", "Version", "Author", "Comment"],
        f.config_changes.iter().map(|c| {
            vec![
                format_utc(c.at),
                c.change.clone(),
                c.version.clone(),
                match f.site_names.get(&c.author) {
                    Some(name) => format!("{name} ({})", c.author),
                    None => c.author.clone(),
                },
                c.comment.clone(),
            ]
        }),
        "No configuration change in the period.",
    );

    section(&mut h, 4);
    rows(
        &mut h,
        &["Opened", "Resolved", "What", "Site", "Details"],
        f.alerts.iter().map(|a| {
            vec![
                format_utc(a.opened_at),
                a.resolved_at
                    .map(format_utc)
                    .unwrap_or_else(|| "open".into()),
                a.kind.clone(),
                a.site.clone().unwrap_or_else(|| "the server".into()),
                a.summary.clone(),
            ]
        }),
        "No alert in the period.",
    );

    section(&mut h, 5);
    match &e.chain.first_broken {
        None => {
            let _ = write!(
                h,
                "<p class=\"ok\">The audit chain verifies, up to entry {}.</p>",
                e.chain.head_seq
            );
        }
        Some(broken) => {
            let _ = write!(
                h,
                "<p class=\"bad\">The audit chain does not verify: {}</p>",
                esc(broken)
            );
        }
    }
    if e.chain.checkpoints.is_empty() {
        h.push_str("<p class=\"muted\">No signed checkpoint covers the period yet.</p>");
    } else {
        // Hashes and key ids are long words: they may break anywhere, names may not.
        h.push_str(
            "<table><tr><th>Signed checkpoint</th><th>Hash</th><th>Signed at</th><th>Key</th></tr>",
        );
        for c in &e.chain.checkpoints {
            let _ = write!(
                h,
                "<tr><td>entry {}</td><td class=\"hash\">{}</td><td>{}</td><td class=\"hash\">{}</td></tr>",
                c.seq,
                esc(&c.hash),
                format_utc(c.signed_at_ms),
                esc(&c.key_id)
            );
        }
        h.push_str("</table>");
    }

    section(&mut h, 6);
    let entry = |e: &Option<(i64, String)>| match e {
        Some((seq, hash)) => format!("entry {seq}, <code class=\"hash\">{}</code>", esc(hash)),
        None => "none".into(),
    };
    let _ = write!(
        h,
        "<p>First entry of the period: {}<br>Last entry of the period: {}</p>\
         <p>The evidence file beside this page holds these figures, signed with the audit key \
         <code>{}</code>; check it with <code>kendrix-server audit verify-report FILE</code>.</p>",
        entry(&f.first_entry),
        entry(&f.last_entry),
        esc(&signed.key_id)
    );
    h.push_str("</body></html>\n");
    h
}

fn section(h: &mut String, index: usize) {
    let (anchor, title) = SECTIONS[index];
    let _ = write!(h, "<h2 id=\"{anchor}\">{title}</h2>");
}

fn rows(h: &mut String, heads: &[&str], rows: impl Iterator<Item = Vec<String>>, empty: &str) {
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        let _ = write!(h, "<p class=\"muted\">{empty}</p>");
        return;
    }
    h.push_str("<table><tr>");
    for head in heads {
        let _ = write!(h, "<th>{head}</th>");
    }
    h.push_str("</tr>");
    for row in rows {
        h.push_str("<tr>");
        for cell in row {
            let _ = write!(h, "<td>{}</td>", esc(&cell));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
}
