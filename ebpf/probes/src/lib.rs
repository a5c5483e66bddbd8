//! Code shared by kotel's kernel programs. Each source has its own object (a binary of
//! this crate: `kotel-tcp`, `kotel-exec`, `kotel-file-open`), so a source loads only its
//! own programs and maps; what they share lives here.
#![no_std]
#![feature(asm_experimental_arch)]

pub mod filter;
pub mod mem;
pub mod read;
pub mod typed;
pub mod vfs;
pub mod wakeup;

/// The panic handler and license section every program object needs. Invoke once at
/// the top of each binary.
#[macro_export]
macro_rules! program_object {
    () => {
        #[cfg(not(test))]
        #[panic_handler]
        fn panic(_info: &core::panic::PanicInfo) -> ! {
            // The verifier rejects any reachable panic path, so this is never called.
            loop {}
        }

        /// `bpf_probe_read_kernel` is GPL-only; the agent's kernel programs are dual licensed.
        #[unsafe(link_section = "license")]
        #[unsafe(no_mangle)]
        static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
    };
}
