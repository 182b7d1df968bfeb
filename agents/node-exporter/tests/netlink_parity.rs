//! The netlink collectors against Debian's node_exporter 1.5 on this
//! machine's live kernel: qdisc (rtnetlink) must report the same devices,
//! kinds, names, HELP and types, and the wifi collector must succeed or fail
//! exactly when upstream's does (nl80211 is absent on most build machines).

mod common;

use common::{get, parse, start_ours, start_peer};

const ARGS: [&str; 3] = [
    "--collector.disable-defaults",
    "--collector.qdisc",
    "--collector.wifi",
];

#[test]
fn qdisc_and_wifi_match_node_exporter_live() {
    let peer = start_peer(&ARGS.map(String::from));
    let ours = start_ours(&ARGS);
    // Upstream first: its counters can only have grown when we are read.
    let p = parse(&get(&format!("http://{}/metrics", peer.addr)).unwrap());
    let o = parse(&get(&ours.url("/metrics")).unwrap());

    let qdisc = |s: &common::Scrape| -> Vec<String> {
        s.series
            .keys()
            .filter(|k| k.starts_with("node_qdisc_"))
            .cloned()
            .collect()
    };
    let (pq, oq) = (qdisc(&p), qdisc(&o));
    assert!(!pq.is_empty(), "upstream reports no qdisc here");
    assert_eq!(pq, oq, "qdisc series differ");
    for k in &pq {
        let name = k.split('{').next().unwrap();
        assert_eq!(p.helps.get(name), o.helps.get(name), "HELP of {name}");
        assert_eq!(p.types.get(name), o.types.get(name), "TYPE of {name}");
        let (pv, ov) = (p.value(k).unwrap(), o.value(k).unwrap());
        if name.ends_with("_total") {
            assert!(ov >= pv, "{k}: ours {ov} is below upstream's earlier {pv}");
        }
    }
    for c in ["qdisc", "wifi"] {
        let key = format!("node_scrape_collector_success{{collector=\"{c}\"}}");
        assert_eq!(p.value(&key), o.value(&key), "{key}");
    }
    let wifi = |s: &common::Scrape| -> Vec<String> {
        s.series
            .keys()
            .filter(|k| k.starts_with("node_wifi_"))
            .cloned()
            .collect()
    };
    assert_eq!(wifi(&p), wifi(&o), "wifi series differ");
}
