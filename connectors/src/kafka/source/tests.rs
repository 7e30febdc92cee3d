use super::*;

#[test]
fn partitions_spread_evenly_and_stay_with_their_owner() {
    let owners: Vec<usize> = (0..4).map(|p| owner("bids", p, 2)).collect();
    assert_eq!(owners.iter().filter(|o| **o == 0).count(), 2);
    assert_eq!(owner("bids", 3, 2), owners[3]);
}
