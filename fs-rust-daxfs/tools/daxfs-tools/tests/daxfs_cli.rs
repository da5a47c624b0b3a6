// SPDX-License-Identifier: GPL-2.0

//! The `daxfs` binary (`daxfs seal|unseal|status`): exit statuses and where its output goes.
//! The host's filesystem does not support sealing, so these check the command line, the
//! help and the error paths; the guest suite `37-daxfs-cli` checks sealing on daxfs.

mod common;

use std::process::{Command, Output};

fn daxfs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_daxfs"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_exits_0_on_stdout() {
    for a in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["seal", "--help"],
        &["help", "unseal"],
    ] {
        let o = daxfs(a);
        assert_eq!(o.status.code(), Some(0), "{:?}", a);
        assert!(text(&o.stdout).starts_with("NAME\n"), "{:?}", a);
        assert!(o.stderr.is_empty(), "{:?}", a);
    }
    // The binary prints the library's manual (whose contents, every errno included, the
    // library's unit tests check).
    let o = daxfs(&["--help"]);
    assert_eq!(text(&o.stdout), daxfs_tools::seal::help(None));
    let o = daxfs(&["seal", "--help"]);
    assert_eq!(
        text(&o.stdout),
        daxfs_tools::seal::help(Some(daxfs_tools::seal::Command::Seal))
    );
    let o = daxfs(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).starts_with("daxfs (daxfs-tools) "));
}

#[test]
fn usage_errors_exit_2_on_stderr() {
    for a in [
        &[][..],
        &["frob", "f"],
        &["seal"],
        &["seal", "--size", "0", "f"],
        &["seal", "--size", "1X", "f"],
        &["unseal", "--size", "1", "f"],
        &["status", "--bogus", "f"],
    ] {
        let o = daxfs(a);
        assert_eq!(o.status.code(), Some(2), "{:?}", a);
        assert!(o.stdout.is_empty(), "{:?}", a);
        let err = text(&o.stderr);
        assert!(
            err.starts_with("daxfs: ") && err.contains("--help"),
            "{:?}: {}",
            a,
            err
        );
    }
}

#[test]
fn each_file_is_reported_and_failures_exit_1() {
    let d = common::scratch("daxfs-cli");
    std::fs::write(d.join("f"), b"hello").unwrap();
    let f = d.join("f");
    let missing = d.join("missing");
    let (f, missing, ds) = (
        f.to_str().unwrap(),
        missing.to_str().unwrap(),
        d.to_str().unwrap(),
    );
    let o = daxfs(&["status", f, ds]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out);
    assert!(lines[0].starts_with(&format!("{}: ", f)) && lines[0].contains("(5 bytes, "));
    assert_eq!(lines[1], format!("{}: not a regular file (directory)", ds));
    let o = daxfs(&["status", missing, f]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o.stdout).lines().count(), 1);
    assert_eq!(
        text(&o.stderr),
        format!("daxfs: {}: No such file or directory\n", missing)
    );
    for c in ["seal", "unseal"] {
        let o = daxfs(&[c, ds, missing]);
        assert_eq!(o.status.code(), Some(1), "{}", c);
        assert!(o.stdout.is_empty());
        assert_eq!(text(&o.stderr).lines().count(), 2, "{}", c);
    }
    std::fs::remove_dir_all(&d).unwrap();
}
