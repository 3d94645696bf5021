//! The repository's scripts on a machine without Rust: one clear message, exit 2.

use std::path::Path;
use std::process::Command;

#[test]
fn scripts_without_rust_say_how_to_install_it() {
    // A PATH with only what the scripts need before building: no cargo anywhere.
    let bin = std::env::temp_dir().join(format!("kiln-it-norust-{}", std::process::id()));
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["bash", "dirname"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|dir| Path::new(dir).join(tool))
            .find(|path| path.is_file())
            .unwrap_or_else(|| panic!("{tool} is installed"));
        let link = bin.join(tool);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(found, link).unwrap();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for script in ["scripts/test", "scripts/analytics"] {
        let output = Command::new(bin.join("bash"))
            .arg(root.join(script))
            .env_clear()
            .env("PATH", &bin)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{script}: {stderr}");
        assert!(
            stderr.contains("Rust is not installed"),
            "{script}: {stderr}"
        );
        assert!(stderr.contains("rustup"), "{script}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&bin);
}
