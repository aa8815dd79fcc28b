//! Reading `tasklist /FO CSV /NH` output, the Windows alive check in
//! `windows.rs`: the image name on the row of one pid. Plain text parsing, so
//! its tests run on every platform.

/// The image name on the row for `pid`, if there is one. Other lines (such
/// as the localised "INFO: No tasks are running ..." when nothing matches)
/// are ignored; only the quoted name and pid columns are read, which do not
/// depend on the language.
pub(super) fn image_of(output: &str, pid: i32) -> Option<String> {
    output
        .lines()
        .find_map(|line| match csv_fields(line)?.as_slice() {
            [name, p, ..] if p.trim().parse::<i32>() == Ok(pid) => Some(name.clone()),
            _ => None,
        })
}

/// Whether two image names are the same program (Windows file names ignore
/// case).
pub(super) fn same_image(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// A CSV line's fields (`""` inside quotes is a quote); `None` for a line
/// that does not start with a quoted field, as every tasklist row does.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let line = line.trim();
    if !line.starts_with('"') {
        return None;
    }
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    if quoted {
        return None;
    }
    fields.push(field);
    Some(fields)
}
