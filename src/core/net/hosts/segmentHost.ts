/**
 * The service host of a segment (bridged or host-only): it answers ARP and ping for its address
 * and gives addresses by DHCP, announcing a router only when the segment has one (`gateway`) and
 * a DNS server only when something answers DNS (`dns`). It routes nothing: a packet sent to its
 * MAC for another address is dropped and counted.
 */
import { Station, type StationOptions } from "./station.ts";

export type SegmentHostOptions = StationOptions;

export class SegmentHost extends Station {}
