// SPDX-License-Identifier: GPL-2.0

//! `dump.daxfs`: print the on-disk structures of a daxfs filesystem.

use std::path::PathBuf;
use std::process::exit;

use daxfs_tools::dump::{dump, DumpOptions};
use daxfs_tools::util::getopt;

const USAGE: &str = "\
Usage: dump.daxfs [-i INODE] [-a] [-g] DEVICE
  (no option)  superblock, journal header and the root directory
  -a           every inode in use, with extent maps and directory indexes
  -g           the group usage table (non-zero entries)
  -i INODE     one inode and its B+tree nodes
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, pos) = match getopt(&args, &["-i"]) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("dump.daxfs: {}\n{}", e, USAGE);
            exit(1);
        }
    };
    let mut o = DumpOptions::default();
    for (k, v) in &opts {
        match k.as_str() {
            "-a" => o.inodes = true,
            "-g" => o.groups = true,
            "-i" => match v.as_deref().and_then(|v| v.parse().ok()) {
                Some(n) => o.inode = Some(n),
                None => {
                    eprintln!("dump.daxfs: invalid inode number");
                    exit(1);
                }
            },
            "-h" | "--help" => {
                print!("{}", USAGE);
                exit(0);
            }
            _ => {
                eprintln!("dump.daxfs: unknown option {}\n{}", k, USAGE);
                exit(1);
            }
        }
    }
    let [dev] = pos.as_slice() else {
        eprint!("{}", USAGE);
        exit(1);
    };
    match daxfs_tools::fs::Fs::open(&PathBuf::from(dev), false) {
        Ok(fs) => print!("{}", dump(&fs, &o)),
        Err(e) => {
            eprintln!("dump.daxfs: {}", e);
            exit(1);
        }
    }
}
