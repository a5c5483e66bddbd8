use super::*;

#[test]
fn holders_share_one_value_and_it_is_freed_after_the_last() {
    static CELL: Mutex<Weak<Vec<u8>>> = Mutex::new(Weak::new());
    let parses = std::sync::atomic::AtomicUsize::new(0);
    let parse = || -> Result<Vec<u8>, ()> {
        parses.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(vec![1; 16])
    };
    let a = shared(&CELL, parse).unwrap();
    let b = shared(&CELL, parse).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(parses.load(std::sync::atomic::Ordering::SeqCst), 1);
    drop((a, b));
    assert!(CELL.lock().unwrap().upgrade().is_none(), "freed");
    let _c = shared(&CELL, parse).unwrap();
    assert_eq!(parses.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(shared(&Mutex::new(Weak::<u8>::new()), || Err::<u8, _>("no BTF")).is_err());
}
