//! Guards on the layering: handlers reach the store only through services, and the
//! error table never names the database.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn http_reaches_the_store_only_through_services() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src/http"), &mut files);
    assert!(files.len() > 10, "src/http not found");
    let mut offences = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            // Built with concat! so this file does not trip its own check.
            let named = [
                concat!("store", "::"),
                concat!(".store", ".read"),
                concat!(".store", ".write"),
            ]
            .iter()
            .any(|needle| line.contains(needle));
            if named {
                offences.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offences.is_empty(),
        "handlers must call a service in src/service, not the store:\n{}",
        offences.join("\n")
    );
}

#[test]
fn the_error_table_does_not_name_the_database() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/error.rs");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        !text.contains(concat!("re", "db")),
        "conversions from the database's errors belong in src/store/errors.rs"
    );
}
