use super::*;

#[test]
fn shared_values_are_one_per_type_and_start_from_default() {
    let shared = Shared::default();
    let a = shared.get::<Mutex<Vec<u32>>>();
    a.lock().unwrap().push(7);
    assert_eq!(*shared.get::<Mutex<Vec<u32>>>().lock().unwrap(), [7]);
    assert_eq!(*shared.get::<Mutex<u64>>().lock().unwrap(), 0);
    assert!(Arc::ptr_eq(&a, &shared.get::<Mutex<Vec<u32>>>()));
}
