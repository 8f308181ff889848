/** The virtual network: the switch and its links, capture, decoding, pcap files, the summary for a UI. */
export { crossover, type NetworkBus } from "./bus.ts";
export {
  BROADCAST_MAC,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_VLAN,
  PROTO_ICMP,
  PROTO_TCP,
  PROTO_UDP,
  formatIpv4,
  formatMac,
  internetChecksum,
  ipv4Frame,
  parseMac,
  transportChecksum,
  udpFrame,
  type Ipv4,
  type Ipv4PacketOptions,
  type Mac,
  type UdpFrameOptions,
} from "./frames.ts";
export { DROP_REASONS, NO_IMPAIRMENTS, checkImpairments, seededRandom, type DropReason, type Impairments } from "./link.ts";
export {
  AGEING_MS,
  DEFAULT_SEGMENT,
  MAX_FRAME_BYTES,
  MAX_TABLE_ENTRIES,
  SwitchPort,
  VirtualSwitch,
  type LearnedMac,
  type PortCounters,
  type PortKind,
  type PortOptions,
  type SwitchOptions,
  type TapRecord,
  type TopologyChange,
} from "./switch.ts";
export { NetworkMonitor, switchSummary, type MonitorOptions, type NetworkSummary, type PortSummary, type SegmentSummary } from "./summary.ts";
export { DEFAULT_CAPTURE_BYTES, DEFAULT_CAPTURE_LIMIT, DEFAULT_SNAP_LENGTH, PacketCapture, packetMatches, type CaptureOptions, type CapturedPacket, type PacketFilter } from "./capture.ts";
export { PROTOCOL_NAMES, decodeFrame, type ArpInfo, type DecodedFrame, type EthernetInfo, type IcmpInfo, type Ipv4Info, type ProtocolName, type TcpInfo, type UdpInfo } from "./decode.ts";
export { DHCP_MESSAGE_TYPES, dnsTypeName, type DhcpInfo, type DnsAnswer, type DnsInfo, type Ipv6Info } from "./decodeApp.ts";
export { LINKTYPE_ETHERNET, PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, pcapHeader, pcapRecord, readPcap, splitTime, writePcap, type PcapFile, type PcapFileRecord, type PcapRecord, type PcapWriteOptions } from "./pcap.ts";
export { LAN_SEGMENT, NETWORK_MODES, VirtualNetwork, lanPool, type NetworkMember, type NetworkMode, type VirtualNetworkOptions, type WebRequest } from "./network.ts";
export { LAB_MACHINE_OFF, LAB_MACHINE_OFF_NOTICE, LAB_PREBOOTED_NAMES, labStoppedNotice, labStoppedProblem, MAX_LAB_MACHINES, NetworkLab, createNetworkLab, labPrebooted, labProfile, type LabNic, type LabMachine, type LabMachineState, type NetworkLabOptions } from "./networkLab.ts";
export { MAX_TAB_SLOTS, TAB_CHANNEL_NAME, TAB_HELLO_MS, TAB_TIMEOUT_MS, TabTrunk, broadcastTabChannel, staysInTab, type RemoteTab, type TabChannel, type TabMachine, type TabTrunkOptions, type TrunkCounters } from "./tabTrunk.ts";
