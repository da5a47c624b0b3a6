// SPDX-License-Identifier: GPL-2.0

//! `fsck.daxfs`: check and repair a daxfs filesystem.

use std::path::PathBuf;
use std::process::exit;

use daxfs_tools::fsck::{fsck_with_backup, Mode, Options, EXIT_OPERATIONAL};
use daxfs_tools::util::getopt;

const USAGE: &str = "\
Usage: fsck.daxfs [-n | -p | -a | -y] [-f] [-v] [-b BLOCK] [--dump] DEVICE
Check a daxfs filesystem.
  -n        check only, never write (default when no mode is given)
  -p, -a    automatically repair what is safe
  -y        repair everything that can be repaired
  -f        check even if the filesystem seems clean (always done)
  -C FD     accepted for fsck(8) compatibility (no progress output)
  -v        verbose summary
  -b BLOCK, --backup BLOCK
            use the backup superblock in block BLOCK instead of the
            primary (-p/-y rewrite the primary from it; --dump reads
            through it). The backup is the filesystem's last block:
            SIZE/4096 - 1 after `mkfs.daxfs DEVICE SIZE`, the device's
            last block without a SIZE. Without -b a bad primary is
            replaced by the backup in the block the primary names, else
            in the device's last block.
  --dump    print the on-disk structures (see dump.daxfs) and exit
  -V        print the version
Exit status (fsck(8)): 0 clean, 1 errors corrected, 4 errors left
uncorrected, 8 operational error (no valid superblock, no backup in the
block -b names, I/O error), 16 usage error.
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (opts, pos) = match getopt(&args, &["-C", "-b", "--backup"]) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("fsck.daxfs: {}", e);
            exit(16);
        }
    };
    let mut mode = None;
    let mut verbose = false;
    let mut dump = false;
    let mut backup_block = None;
    for (k, v) in &opts {
        let m = match k.as_str() {
            "-n" => Some(Mode::No),
            "-p" | "-a" => Some(Mode::Preen),
            "-y" => Some(Mode::Yes),
            "-f" | "-C" | "-t" => None,
            "-b" | "--backup" => {
                let v = v.as_deref().unwrap_or("");
                match v.parse::<u64>() {
                    Ok(b) if b > 0 => backup_block = Some(b),
                    _ => {
                        eprintln!("fsck.daxfs: invalid backup superblock block: {}", v);
                        exit(16);
                    }
                }
                None
            }
            "-v" => {
                verbose = true;
                None
            }
            "--dump" => {
                dump = true;
                None
            }
            "-V" => {
                println!("fsck.daxfs version {}", env!("CARGO_PKG_VERSION"));
                exit(0);
            }
            "-h" | "--help" => {
                print!("{}", USAGE);
                exit(0);
            }
            _ => {
                eprintln!("fsck.daxfs: unknown option {}\n{}", k, USAGE);
                exit(16);
            }
        };
        if let Some(m) = m {
            if mode.is_some_and(|x| x != m) {
                eprintln!("fsck.daxfs: only one of -n, -p/-a, -y may be given");
                exit(16);
            }
            mode = Some(m);
        }
    }
    let [dev] = pos.as_slice() else {
        eprint!("{}", USAGE);
        exit(16);
    };
    let path = PathBuf::from(dev);
    if dump {
        // With -b, the structures are read through the named backup.
        let fs = match backup_block {
            None => daxfs_tools::fs::Fs::open(&path, false),
            Some(blk) => daxfs_tools::dev::Dev::open(&path, false)
                .map_err(|e| format!("{}: {}", path.display(), e))
                .and_then(|dev| {
                    let sb = daxfs_tools::fsck::read_backup(&dev, blk).map_err(|e| {
                        format!(
                            "{}: -b {}: no valid backup superblock: {}",
                            path.display(),
                            blk,
                            e
                        )
                    })?;
                    Ok(daxfs_tools::fs::Fs::with_sb(dev, sb))
                }),
        };
        match fs {
            Ok(fs) => {
                let o = daxfs_tools::dump::DumpOptions {
                    inodes: true,
                    groups: true,
                    inode: None,
                };
                print!("{}", daxfs_tools::dump::dump(&fs, &o));
                exit(0);
            }
            Err(e) => {
                eprintln!("fsck.daxfs: {}", e);
                exit(EXIT_OPERATIONAL);
            }
        }
    }
    let r = fsck_with_backup(
        &path,
        Options {
            mode: mode.unwrap_or(Mode::No),
            verbose,
        },
        backup_block,
    );
    for l in &r.lines {
        println!("{}", l);
    }
    exit(r.exit);
}
