//! An error and its causes on one line: how every process of Wisp shows an error.

/// The error and its sources on one line (a source already quoted by its
/// parent is not repeated; line breaks inside a message become `; `).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    line.replace('\n', "; ")
}
