use std::collections::HashMap;

use super::*;

fn set(pairs: &[(&str, &str)]) -> Attributes {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>()
        .into()
}

#[test]
fn keys_of_equal_sets_made_apart_find_the_same_entry() {
    let mut map: HashMap<SeriesKey, u32, BuildPrehashed> = HashMap::default();
    map.insert(SeriesKey::new(set(&[("k8s.pod.name", "web-1")])), 1);
    map.insert(SeriesKey::new(set(&[("k8s.pod.name", "web-2")])), 2);
    let again = SeriesKey::new(set(&[("k8s.pod.name", "web-1")]));
    assert_eq!(map.get(&again), Some(&1));
    assert_eq!(map.get(&SeriesKey::new(set(&[]))), None);
    assert_eq!(map.len(), 2);
}
