// SPDX-License-Identifier: Apache-2.0

// The address values are part of this module's API (records, requests, errors): their users
// get them from here, without the netlink requests that come with their home module.
@_exported import struct SComposeNetlink.IPv4
@_exported import struct SComposeNetlink.IPv6
@_exported import struct SComposeNetlink.Subnet
@_exported import struct SComposeNetlink.Subnet6
