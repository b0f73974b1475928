use super::*;
use crate::regress::fixtures::zip_of;

#[test]
fn only_timings_files_are_written_keeping_their_directories() {
    let dest = tempfile::tempdir().expect("tempdir");
    let bytes = zip_of(
        &[
            ("timings.json", b"{}"),
            ("svc/api/timings.json", b"{\"a\":1}"),
            ("logs/build/api.log", b"lots of output"),
            ("./diagnostics/x.txt", b"x"),
        ],
        &[],
    );
    let written = extract_timings(&bytes, &dest.path().join("42"), ZipLimits::default()).expect("extracted");
    assert_eq!(
        written,
        vec![
            dest.path().join("42/timings.json"),
            dest.path().join("42/svc/api/timings.json")
        ]
    );
    assert!(
        !dest.path().join("42/logs").exists(),
        "only timings.json files are written"
    );
    assert_eq!(std::fs::read_to_string(&written[1]).expect("read"), "{\"a\":1}");
}

#[test]
fn traversal_absolute_and_drive_paths_and_symlinks_refuse_the_whole_archive() {
    let dest = tempfile::tempdir().expect("tempdir");
    let out = dest.path().join("a");
    for name in [
        "../timings.json",
        "svc/../../timings.json",
        "/etc/timings.json",
        "..\\timings.json",
        "C:/timings.json",
        "\\\\server\\share\\timings.json",
    ] {
        let bytes = zip_of(&[("ok/timings.json", b"{}"), (name, b"{}")], &[]);
        let error = extract_timings(&bytes, &out, ZipLimits::default()).expect_err(name);
        assert!(matches!(error, ExtractError::UnsafePath(_)), "{name}: {error}");
        assert!(!out.exists(), "{name}: nothing is written from an unsafe archive");
    }
    let bytes = zip_of(&[("ok/timings.json", b"{}")], &[("timings.json", "/etc/passwd")]);
    let error = extract_timings(&bytes, &out, ZipLimits::default()).expect_err("symlink");
    assert!(matches!(error, ExtractError::Symlink(_)), "{error}");
    assert!(!dest.path().parent().expect("parent").join("timings.json").exists());
    assert_eq!(
        safe_relative_path("a/./b/timings.json"),
        Some(PathBuf::from("a/b/timings.json"))
    );
}

#[test]
fn zip_bombs_and_garbage_are_refused() {
    let dest = tempfile::tempdir().expect("tempdir");
    let zeros = vec![0u8; 16 * 1024 * 1024];
    let bytes = zip_of(&[("logs/zeros.log", &zeros)], &[]);
    assert!(bytes.len() < 100 * 1024, "{} bytes compressed", bytes.len());
    let error = extract_timings(&bytes, dest.path(), ZipLimits::default()).expect_err("ratio");
    assert!(error.to_string().contains("inflates"), "{error}");
    let limits = ZipLimits {
        max_total_bytes: 1024,
        ..ZipLimits::default()
    };
    let bytes = zip_of(&[("a.txt", &[b'x'; 800]), ("b.txt", &[b'y'; 800])], &[]);
    let error = extract_timings(&bytes, dest.path(), limits).expect_err("total");
    assert!(matches!(error, ExtractError::Bomb(_)), "{error}");
    let limits = ZipLimits {
        max_entry_bytes: 10,
        ..ZipLimits::default()
    };
    let bytes = zip_of(&[("timings.json", b"{\"much more than ten bytes\": 1}")], &[]);
    assert!(matches!(
        extract_timings(&bytes, dest.path(), limits),
        Err(ExtractError::Bomb(_))
    ));
    let limits = ZipLimits {
        max_entries: 2,
        ..ZipLimits::default()
    };
    let bytes = zip_of(&[("a", b"1"), ("b", b"2"), ("c", b"3")], &[]);
    assert!(matches!(
        extract_timings(&bytes, dest.path(), limits),
        Err(ExtractError::Bomb(_))
    ));
    for garbage in [&b"PK\x03\x04 not really"[..], b"", b"<html>502 Bad Gateway</html>"] {
        assert!(matches!(
            extract_timings(garbage, dest.path(), ZipLimits::default()),
            Err(ExtractError::Corrupt(_))
        ));
    }
    let mut truncated = zip_of(&[("timings.json", b"{}")], &[]);
    truncated.truncate(truncated.len() - 10);
    assert!(extract_timings(&truncated, dest.path(), ZipLimits::default()).is_err());
}
