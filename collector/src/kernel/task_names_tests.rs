use super::*;

fn comm(name: &[u8]) -> Comm {
    let mut c = [0u8; 16];
    c[..name.len()].copy_from_slice(name);
    c
}

#[test]
fn the_same_bytes_give_the_same_shared_string() {
    let mut names = TaskNames::default();
    let a = names.get(&comm(b"curl"));
    let b = names.get(&comm(b"curl"));
    assert_eq!(&*a, "curl");
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(&*names.get(&comm(b"nginx")), "nginx");
    assert_eq!(names.len(), 2);
}

#[test]
fn names_without_nul_and_invalid_utf8_are_kept_whole_and_lossy() {
    let mut names = TaskNames::default();
    assert_eq!(&*names.get(b"sixteen-bytes-xx"), "sixteen-bytes-xx");
    let mut bad = comm(b"a");
    bad[1] = 0xff;
    assert_eq!(&*names.get(&bad), "a\u{fffd}");
    assert_eq!(&*names.get(&[0u8; 16]), "");
}

#[test]
fn the_cache_starts_again_when_full() {
    let mut names = TaskNames::default();
    for i in 0..MAX_NAMES as u32 {
        let mut c = [b'x'; 16];
        c[..4].copy_from_slice(&i.to_le_bytes());
        names.get(&c);
    }
    assert_eq!(names.len(), MAX_NAMES);
    assert_eq!(&*names.get(&comm(b"one-more")), "one-more");
    assert_eq!(names.len(), 1);
}
