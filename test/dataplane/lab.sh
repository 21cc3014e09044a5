#!/usr/bin/env bash
# lab.sh runs the dataplane lab: tierwall's NetworkPolicies enforced by
# kube-router's NetworkPolicy controller (the engine K3s embeds) on real
# network namespaces, probed with real TCP and UDP packets.
#
# It builds the lab's test binary, then creates, all named twlab-<pid>-*:
#   - a node network namespace with loopback, a bridge (twbr0, 10.244.7.1/24)
#     and the sysctls kube-router needs there;
#   - SLOTS pod network namespaces, each joined to the bridge by a veth, with
#     the address 10.244.7.<10+i>/24 on its eth0 and a default route through
#     the node;
#   - a second node's network namespace, joined to the node by a veth (the
#     node network, 192.168.7.0/24: the node is .1 there), with the address
#     192.168.7.2 (the second node's InternalIP), a spare address
#     192.168.7.3 (no Node's, until a test moves the InternalIP there), and
#     a route to the pods through the node, so that its packets reach the
#     pods routed by the node, from its own address, as traffic from a
#     hostNetwork pod on another node does (and the pods' packets reach its
#     addresses, where a test's API server endpoint listens);
# and runs the test binary inside the node namespace, where kube-router's
# iptables and ipset commands act. Everything lives in those namespaces: the
# host's own firewall is never touched. On exit, failure or Ctrl-C, a trap
# stops the processes left in the namespaces and deletes every namespace
# (with it go the bridge, the veths, the iptables rules and the ipsets).
#
# Usage: test/dataplane/lab.sh [go test flags...]   (as root)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
slots=${SLOTS:-12}
prefix=twlab-$$
node=$prefix-node
bridge=twbr0
node_ip=10.244.7.1
node2=$prefix-node2
node_net_ip=192.168.7.1 # the node, on the node network
node2_ip=192.168.7.2
spare_ip=192.168.7.3

fail() { printf 'test-dataplane: %s\n' "$*" >&2; exit 1; }
log() { printf 'test-dataplane: %s\n' "$*" >&2; }

[[ $(id -u) -eq 0 ]] || fail "the lab needs root to create network namespaces and iptables rules in them: run 'sudo make test-dataplane' (CI runs as root)"
for cmd in ip iptables iptables-save iptables-restore ipset; do
  command -v "$cmd" >/dev/null || fail "missing the command $cmd: install Debian's iptables, ipset and iproute2 (apt-get install -y iptables ipset iproute2)"
done
[[ -n "${KUBEBUILDER_ASSETS:-}" ]] || fail "KUBEBUILDER_ASSETS is not set: run 'make test-dataplane', which builds the envtest binaries"

# Build first, in the host's namespaces, so that a compile error needs no cleanup.
bin=$(mktemp -d)
created=()
cleanup() {
  local status=$?
  for ns in "${created[@]}"; do
    local pids
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [[ -n "$pids" ]]; then
      # shellcheck disable=SC2086 # a list of pids
      kill $pids 2>/dev/null || true
      sleep 1
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      # shellcheck disable=SC2086
      [[ -z "$pids" ]] || kill -9 $pids 2>/dev/null || true
    fi
    ip netns delete "$ns" 2>/dev/null || true
  done
  rm -rf "$bin"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building the lab"
(cd "$here" && go test -c -o "$bin/dataplane.test" .)

in_node() { ip netns exec "$node" "$@"; }

ip netns add "$node"
created+=("$node")
ip -n "$node" link set lo up
ip -n "$node" link add "$bridge" type bridge || fail "the kernel cannot create a bridge (CONFIG_BRIDGE)"
ip -n "$node" addr add "$node_ip/24" dev "$bridge"
ip -n "$node" link set "$bridge" up
if [[ ! -e /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
  modprobe br_netfilter 2>/dev/null || true
fi
in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null ||
  fail "the kernel lacks br_netfilter (net.bridge.bridge-nf-call-iptables): load it with 'modprobe br_netfilter'"
# kube-router rejects with ICMP: unlimited ICMP keeps rejections fast.
in_node sysctl -qw net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=100000 net.ipv4.icmp_msgs_burst=100000 >/dev/null
in_node sysctl -qw net.ipv4.ip_forward=1 >/dev/null

# The iptables matches and ipset types kube-router uses, tried in the node namespace.
in_node ipset create twlab-probe hash:ip timeout 0 >/dev/null 2>&1 || fail "ipset cannot create a hash:ip set: the kernel lacks ip_set (CONFIG_IP_SET_HASH_IP)"
in_node ipset destroy twlab-probe
for match in "-m comment --comment probe" "-m set --match-set twlab-probe src" "-m physdev --physdev-is-bridged" \
  "-m addrtype --src-type LOCAL" "-m conntrack --ctstate RELATED,ESTABLISHED" "-m mark --mark 0x10000/0x10000" \
  "-m limit --limit 10/minute" "-p tcp -m multiport --dports 1,2"; do
  [[ "$match" == *match-set* ]] && in_node ipset create twlab-probe hash:ip >/dev/null
  # shellcheck disable=SC2086 # a match with its options
  in_node iptables -w -A FORWARD $match -j ACCEPT 2>/dev/null ||
    fail "iptables in the lab namespace refuses '$match': the kernel lacks that match (or nft_compat)"
  # shellcheck disable=SC2086
  in_node iptables -w -D FORWARD $match -j ACCEPT
  [[ "$match" == *match-set* ]] && in_node ipset destroy twlab-probe
done
for target in "REJECT" "NFLOG --nflog-group 100"; do
  # shellcheck disable=SC2086
  in_node iptables -w -A FORWARD -j $target 2>/dev/null || fail "iptables in the lab namespace refuses the target $target"
  # shellcheck disable=SC2086
  in_node iptables -w -D FORWARD -j $target
done

for i in $(seq 1 "$slots"); do
  pod=$prefix-p$i
  ip netns add "$pod"
  created+=("$pod")
  ip -n "$node" link add "twv$i" type veth peer name eth0 netns "$pod"
  ip -n "$node" link set "twv$i" master "$bridge" up
  ip -n "$pod" link set lo up
  ip -n "$pod" addr add "10.244.7.$((10 + i))/24" dev eth0
  ip -n "$pod" link set eth0 up
  ip -n "$pod" route add default via "$node_ip"
  # Probes dial from the pods. Their ephemeral ports must not be ports the
  # pods listen on (33060 is in Linux's default range): a probe's socket
  # left in TIME_WAIT would make a later test's listener fail to bind.
  ip netns exec "$pod" sysctl -qw net.ipv4.ip_local_port_range="49152 60999"
done

ip netns add "$node2"
created+=("$node2")
ip -n "$node2" link set lo up
ip -n "$node" link add twn2 type veth peer name eth0 netns "$node2"
ip -n "$node" addr add "$node_net_ip/24" dev twn2
ip -n "$node" link set twn2 up
ip -n "$node2" addr add "$node2_ip/24" dev eth0
ip -n "$node2" addr add "$spare_ip/24" dev eth0
ip -n "$node2" link set eth0 up
ip -n "$node2" route add 10.244.7.0/24 via "$node_net_ip"
log "created the node namespace $node, $slots pod namespaces and the second node's namespace $node2"

cd "$here"
in_node env TWLAB_PREFIX="$prefix" TWLAB_SLOTS="$slots" TWLAB_NODE_IP="$node_ip" \
  TWLAB_NODE2_IP="$node2_ip" TWLAB_SPARE_IP="$spare_ip" \
  "$bin/dataplane.test" -test.timeout 10m "$@"
