// SPDX-License-Identifier: GPL-2.0

//! `daxfs`: seal and unseal the block map of files on daxfs, and show whether they are
//! sealed (`daxfs seal|unseal|status FILE...`; `daxfs --help` is the manual).

use std::ffi::OsString;
use std::process::exit;

fn main() {
    // A seal that grows a file past RLIMIT_FSIZE gets SIGXFSZ with EFBIG: report the error
    // rather than be killed by the signal.
    // SAFETY: setting the disposition of SIGXFSZ to SIG_IGN installs no handler; nothing else
    // in the process touches signal dispositions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let code = daxfs_tools::seal::main_with(&args, &mut std::io::stdout(), &mut std::io::stderr());
    exit(code);
}
