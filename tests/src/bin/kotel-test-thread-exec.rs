//! Execs from a thread other than the main one, for the exec source's test: prints its own
//! pid, then a spawned thread replaces the process image with `argv[1..]` (the exec'ing
//! thread takes over the thread group, so the new image keeps this pid).

use std::ffi::CString;
use std::io::Write;

fn main() {
    let args: Vec<CString> = std::env::args()
        .skip(1)
        .map(|a| CString::new(a).expect("no NUL in arguments"))
        .collect();
    assert!(
        !args.is_empty(),
        "usage: kotel-test-thread-exec PROGRAM [ARG...]"
    );
    println!("{}", std::process::id());
    std::io::stdout().flush().expect("stdout");
    let worker = std::thread::spawn(move || {
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        // SAFETY: NUL-terminated strings and a NULL-terminated argv that outlive the call.
        unsafe { libc::execv(argv[0], argv.as_ptr()) };
        panic!("execv failed: {}", std::io::Error::last_os_error());
    });
    let _ = worker.join();
    std::process::exit(1);
}
