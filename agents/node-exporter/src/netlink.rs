//! One RTM_GETLINK dump over rtnetlink: most of what /sys/class/net/<iface>/
//! holds, for every interface, in two system calls instead of ~20 file opens
//! per interface. Only the attributes netclass needs are decoded.

use std::io;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_GETLINK: u16 = 18;
const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_ACK: u16 = 4;

const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKMODE: u16 = 17;
const IFLA_IFALIAS: u16 = 20;
const IFLA_GROUP: u16 = 27;
const IFLA_CARRIER: u16 = 33;
const IFLA_CARRIER_CHANGES: u16 = 35;
const IFLA_CARRIER_UP_COUNT: u16 = 47;
const IFLA_CARRIER_DOWN_COUNT: u16 = 48;

pub const IFF_UP: u32 = 0x1;
pub const IFF_DORMANT: u32 = 0x20000;

/// One interface as rtnetlink reports it.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// ARPHRD_* (sysfs `type`).
    pub kind: u16,
    /// dev_get_flags(): includes the runtime bits (RUNNING, LOWER_UP, DORMANT).
    pub flags: u32,
    pub mtu: Option<u32>,
    /// IFLA_LINK; absent when equal to the index.
    pub link: Option<u32>,
    pub txqlen: Option<u32>,
    pub operstate: Option<u8>,
    pub linkmode: Option<u8>,
    pub group: Option<u32>,
    pub carrier: Option<u8>,
    pub carrier_changes: Option<u32>,
    pub carrier_up: Option<u32>,
    pub carrier_down: Option<u32>,
    pub address: Option<Vec<u8>>,
    pub broadcast: Option<Vec<u8>>,
    pub ifalias: Option<String>,
}

/// sysfs's names for IF_OPER_* values.
pub fn operstate_name(v: u8) -> &'static str {
    match v {
        1 => "notpresent",
        2 => "down",
        3 => "lowerlayerdown",
        4 => "testing",
        5 => "dormant",
        6 => "up",
        _ => "unknown",
    }
}

/// Hardware address as sysfs prints it: lowercase hex, colon-separated.
pub fn format_addr(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_ne_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Decode one RTM_NEWLINK payload (ifinfomsg + attributes).
pub fn parse_link(payload: &[u8]) -> Option<Link> {
    if payload.len() < 16 {
        return None;
    }
    let mut l = Link {
        kind: u16_at(payload, 2),
        index: u32_at(payload, 4),
        flags: u32_at(payload, 8),
        ..Link::default()
    };
    let mut i = 16;
    while i + 4 <= payload.len() {
        let len = u16_at(payload, i) as usize;
        let ty = u16_at(payload, i + 2) & 0x3fff;
        if len < 4 || i + len > payload.len() {
            break;
        }
        let d = &payload[i + 4..i + len];
        let u32v = || (d.len() >= 4).then(|| u32_at(d, 0));
        let u8v = || d.first().copied();
        let text =
            || String::from_utf8_lossy(d.split(|&c| c == 0).next().unwrap_or(&[])).into_owned();
        match ty {
            IFLA_IFNAME => l.name = text(),
            IFLA_MTU => l.mtu = u32v(),
            IFLA_LINK => l.link = u32v(),
            IFLA_TXQLEN => l.txqlen = u32v(),
            IFLA_OPERSTATE => l.operstate = u8v(),
            IFLA_LINKMODE => l.linkmode = u8v(),
            IFLA_GROUP => l.group = u32v(),
            IFLA_CARRIER => l.carrier = u8v(),
            IFLA_CARRIER_CHANGES => l.carrier_changes = u32v(),
            IFLA_CARRIER_UP_COUNT => l.carrier_up = u32v(),
            IFLA_CARRIER_DOWN_COUNT => l.carrier_down = u32v(),
            IFLA_ADDRESS => l.address = Some(d.to_vec()),
            IFLA_BROADCAST => l.broadcast = Some(d.to_vec()),
            IFLA_IFALIAS => l.ifalias = Some(text()),
            _ => {}
        }
        i += align4(len);
    }
    (!l.name.is_empty()).then_some(l)
}

/// Dump every link of the current network namespace.
pub fn dump_links() -> io::Result<Vec<Link>> {
    // The body is an ifinfomsg (16 bytes), AF_UNSPEC: all links.
    let messages = request(libc::NETLINK_ROUTE, RTM_GETLINK, true, &[0u8; 16])?;
    Ok(messages
        .iter()
        .filter(|(ty, _)| *ty == RTM_NEWLINK)
        .filter_map(|(_, payload)| parse_link(payload))
        .collect())
}

/// One netlink message of a reply: its type and its payload (after the
/// 16-byte header).
pub type Message = (u16, Vec<u8>);

/// Send one request on a fresh `protocol` socket (NETLINK_ROUTE,
/// NETLINK_GENERIC, …) and collect its replies. `dump` asks for every object
/// (ended by NLMSG_DONE); otherwise the kernel's ACK ends the reply. Used by
/// [`dump_links`] and the qdisc and wifi collectors.
pub fn request(
    protocol: libc::c_int,
    msg_type: u16,
    dump: bool,
    body: &[u8],
) -> io::Result<Vec<Message>> {
    // SAFETY: plain socket call; the descriptor is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and ours.
    let fd: std::os::fd::OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
    use std::os::fd::AsRawFd;
    let flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { NLM_F_ACK };
    let len = 16 + body.len();
    let mut req = Vec::with_capacity(len);
    req.extend_from_slice(&(len as u32).to_ne_bytes());
    req.extend_from_slice(&msg_type.to_ne_bytes());
    req.extend_from_slice(&flags.to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(body);
    // SAFETY: sending our buffer on our socket (the kernel is the default peer).
    if unsafe { libc::send(fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        // SAFETY: receiving into our buffer.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 || split_messages(&buf[..n as usize], &mut out)? {
            return Ok(out);
        }
    }
}

/// Split a receive buffer into messages; `Ok(true)` at NLMSG_DONE or an ACK.
fn split_messages(buf: &[u8], out: &mut Vec<Message>) -> io::Result<bool> {
    let mut i = 0;
    while i + 16 <= buf.len() {
        let len = u32_at(buf, i) as usize;
        let ty = u16_at(buf, i + 4);
        if len < 16 || i + len > buf.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "truncated netlink message",
            ));
        }
        match ty {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let code = if len >= 20 {
                    u32_at(buf, i + 16) as i32
                } else {
                    0
                };
                if code == 0 {
                    return Ok(true); // the ACK of a non-dump request
                }
                return Err(io::Error::from_raw_os_error(-code));
            }
            _ => out.push((ty, buf[i + 16..i + len].to_vec())),
        }
        i += align4(len);
    }
    Ok(false)
}

/// The attributes (type without the nested/byte-order bits, data) of a
/// payload from `offset` on.
pub fn attrs(payload: &[u8], offset: usize) -> Vec<(u16, &[u8])> {
    let mut v = Vec::new();
    let mut i = offset;
    while i + 4 <= payload.len() {
        let len = u16_at(payload, i) as usize;
        if len < 4 || i + len > payload.len() {
            break;
        }
        v.push((u16_at(payload, i + 2) & 0x3fff, &payload[i + 4..i + len]));
        i += align4(len);
    }
    v
}

/// One attribute in netlink's layout (for requests).
pub fn attr_bytes(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(align4(4 + data.len()));
    v.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(data);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

/// Little helpers for attribute data (native byte order, as netlink sends).
pub fn data_u16(d: &[u8]) -> Option<u16> {
    (d.len() >= 2).then(|| u16_at(d, 0))
}
pub fn data_u32(d: &[u8]) -> Option<u32> {
    (d.len() >= 4).then(|| u32_at(d, 0))
}
pub fn data_u64(d: &[u8]) -> Option<u64> {
    (d.len() >= 8).then(|| u64::from_ne_bytes(d[..8].try_into().unwrap_or([0; 8])))
}
pub fn data_str(d: &[u8]) -> String {
    String::from_utf8_lossy(d.split(|&c| c == 0).next().unwrap_or(&[])).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(data);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn decodes_a_link_message() {
        let mut p = vec![0u8, 0];
        p.extend_from_slice(&1u16.to_ne_bytes()); // ARPHRD_ETHER
        p.extend_from_slice(&4u32.to_ne_bytes()); // index
        p.extend_from_slice(&0x11043u32.to_ne_bytes()); // flags
        p.extend_from_slice(&0u32.to_ne_bytes());
        p.extend(attr(IFLA_IFNAME, b"eth0\0"));
        p.extend(attr(IFLA_MTU, &1400u32.to_ne_bytes()));
        p.extend(attr(IFLA_OPERSTATE, &[6]));
        p.extend(attr(IFLA_CARRIER, &[1]));
        p.extend(attr(IFLA_ADDRESS, &[2, 0xfc, 0, 0, 0, 1]));
        let l = parse_link(&p).unwrap();
        assert_eq!(l.name, "eth0");
        assert_eq!(
            (l.index, l.kind, l.mtu, l.carrier),
            (4, 1, Some(1400), Some(1))
        );
        assert_eq!(operstate_name(l.operstate.unwrap()), "up");
        assert_eq!(format_addr(&l.address.unwrap()), "02:fc:00:00:00:01");
        assert!(l.link.is_none() && l.ifalias.is_none());
    }

    #[test]
    fn dumps_the_loopback_link() {
        let links = dump_links().unwrap();
        let lo = links.iter().find(|l| l.name == "lo").expect("lo");
        assert_eq!(lo.kind, 772);
        assert!(lo.mtu.is_some());
    }
}
