use super::*;

#[test]
fn placeholders_become_calls_or_r0_zero_and_nothing_else_changes() {
    let mut object = b"\x7fELF....".to_vec();
    object.extend_from_slice(&RDONLY_CAST_CALL.to_le_bytes());
    object.extend_from_slice(b"abc");
    object.extend_from_slice(&RDONLY_CAST_CALL.to_le_bytes());
    let (with, n) = patch(&object, Some(64927));
    assert_eq!(n, 2);
    assert_eq!(&with[..8], b"\x7fELF....");
    assert_eq!(with[8..16], rdonly_cast_call(64927).to_le_bytes());
    assert_eq!(
        with[8..12],
        [0x85, 0x20, 0, 0],
        "call, kfunc source register"
    );
    assert_eq!(with[12..16], 64927u32.to_le_bytes());
    assert_eq!(&with[16..19], b"abc");
    let (without, n) = patch(&object, None);
    assert_eq!(n, 2);
    assert_eq!(without[8..16], R0_ZERO.to_le_bytes());
    assert_eq!(patch(b"nothing here", None), (b"nothing here".to_vec(), 0));
}

#[test]
fn a_patched_object_is_made_once() {
    static OBJECT: [u8; 16] = [
        0x85, 0x20, 0, 0, 0x65, 0x74, 0x6f, 0x4b, 1, 2, 3, 4, 5, 6, 7, 8,
    ];
    let a = patched(&OBJECT, Some(7));
    assert_eq!(a.as_ptr() as usize % 8, 0);
    assert!(std::ptr::eq(a, patched(&OBJECT, Some(7))));
    assert_eq!(a[4..8], 7u32.to_le_bytes());
    assert_eq!(patched(&OBJECT, None)[..8], R0_ZERO.to_le_bytes());
}
