/** The in-page L3 hosts of the virtual network: each is a NetworkBus a switch port attaches to. */
export { SegmentHost, type SegmentHostOptions } from "./segmentHost.ts";
export { NatGateway, hostNatFetch, type NatConnection, type NatFetch, type NatFetchInit, type NatFetchResponse, type NatGatewayOptions } from "./nat.ts";
export { Router, RouterInterface, type ArpEntry, type RouterInterfaceOptions, type RouterOptions } from "./router.ts";
export { DhcpServer, DHCP, dhcpTypeName, type DhcpLease, type DhcpServerOptions, type LeaseState } from "./dhcp.ts";
export { HostInterface, Station, defaultPool, type DhcpSettings, type HostCounters, type InterfaceAddress, type Schedule, type StationOptions } from "./station.ts";
export { refusal as fetchRefusal } from "./http.ts";
export { inSubnet, parseIpv4 } from "./ip.ts";
