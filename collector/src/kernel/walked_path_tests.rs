use super::*;

#[test]
fn components_are_reversed_under_the_root() {
    let p = WalkedPath::decode(b"shadow\0etc\0", 0, true);
    assert_eq!(p.path, "/etc/shadow");
    assert!(!p.truncated && !p.detached);
    assert_eq!(WalkedPath::decode(b"", 0, true).path, "/");
    assert_eq!(WalkedPath::decode(b"", 0, false).path, "");
}

#[test]
fn flags_and_odd_bytes_are_kept() {
    let p = WalkedPath::decode(b"memfd:x\0", WALK_DETACHED, true);
    assert_eq!((p.path.as_str(), p.detached), ("/memfd:x", true));
    let p = WalkedPath::decode(b"f\0/\0", WALK_DETACHED, true);
    assert_eq!(p.path, "/f", "a root's own name is no component");
    let p = WalkedPath::decode(b"b\xff\0a\0", WALK_TRUNCATED, true);
    assert_eq!((p.path.as_str(), p.truncated), ("/a/b\\xff", true));
    assert!(WalkedPath::decode(b"x\0", WALK_READ_ERROR, true).truncated);
}
