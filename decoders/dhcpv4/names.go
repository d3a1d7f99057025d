package dhcpv4

import "strconv"

// Names as Packetbeat publishes them (they come from the IANA registries,
// worded as in the Go DHCP library Packetbeat uses), so dashboards and
// searches keep matching.

var messageTypes = [...]string{
	1: "discover", 2: "offer", 3: "request", 4: "decline", 5: "ack", 6: "nak",
	7: "release", 8: "inform", 9: "forcerenew", 10: "leasequery",
	11: "leaseunassigned", 12: "leaseunknown", 13: "leaseactive",
	14: "bulkleasequeary", 15: "leasequerydone", 16: "activeleasequery",
	17: "leasequerystatus", 18: "tls",
}

// MessageTypeString is dhcpv4.option.message_type.
func MessageTypeString(t uint8) string {
	if int(t) < len(messageTypes) && messageTypes[t] != "" {
		return messageTypes[t]
	}
	return "unknown (" + strconv.Itoa(int(t)) + ")"
}

// OpString is dhcpv4.op_code.
func OpString(op uint8) string {
	switch op {
	case 1:
		return "bootrequest"
	case 2:
		return "bootreply"
	}
	return "unknown (" + strconv.Itoa(int(op)) + ")"
}

// hardwareTypes are the ARP hardware types (IANA arp-parameters).
var hardwareTypes = [...]string{
	1: "Ethernet", 2: "Experimental Ethernet", 3: "Amateur Radio AX.25",
	4: "Proteon ProNET Token Ring", 5: "Chaos", 6: "IEEE 802", 7: "ARCNET",
	8: "Hyperchannel", 9: "Lanstar", 10: "Autonet Short Address",
	11: "LocalTalk", 12: "LocalNet", 13: "Ultra link", 14: "SMDS",
	15: "Frame Relay", 16: "ATM", 17: "HDLC", 18: "Fibre Channel", 19: "ATM",
	20: "Serial Line", 21: "ATM", 22: "MIL-STD-188-220", 23: "Metricom",
	24: "IEEE 1394.1995", 25: "MAPOS", 26: "Twinaxial", 27: "EUI-64",
	28: "HIPARP", 29: "IP and ARP over ISO 7816-3", 30: "ARPSec",
	31: "IPsec tunnel", 32: "InfiniBand", 33: "TIA-102 Project 25 Common Air Interface",
	34: "Wiegand Interface", 35: "Pure IP",
}

// HardwareTypeString is dhcpv4.hardware_type.
func HardwareTypeString(t uint8) string {
	if int(t) < len(hardwareTypes) && hardwareTypes[t] != "" {
		return hardwareTypes[t]
	}
	return "unknown (" + strconv.Itoa(int(t)) + ")"
}

// optionNames name the codes of the parameter request list.
var optionNames = [256]string{
	0: "Pad", 1: "Subnet Mask", 2: "Time Offset", 3: "Router", 4: "Time Server",
	5: "Name Server", 6: "Domain Name Server", 7: "Log Server", 8: "Quote Server",
	9: "LPR Server", 10: "Impress Server", 11: "Resource Location Server",
	12: "Host Name", 13: "Boot File Size", 14: "Merit Dump File", 15: "Domain Name",
	16: "Swap Server", 17: "Root Path", 18: "Extensions Path",
	19: "IP Forwarding enable/disable", 20: "Non-local Source Routing enable/disable",
	21: "Policy Filter", 22: "Maximum Datagram Reassembly Size",
	23: "Default IP Time-to-live", 24: "Path MTU Aging Timeout",
	25: "Path MTU Plateau Table", 26: "Interface MTU", 27: "All Subnets Are Local",
	28: "Broadcast Address", 29: "Perform Mask Discovery", 30: "Mask Supplier",
	31: "Perform Router Discovery", 32: "Router Solicitation Address",
	33: "Static Routing Table", 34: "Trailer Encapsulation", 35: "ARP Cache Timeout",
	36: "Ethernet Encapsulation", 37: "Default TCP TTL", 38: "TCP Keepalive Interval",
	39: "TCP Keepalive Garbage", 40: "Network Information Service Domain",
	41: "Network Information Servers", 42: "NTP Servers",
	43: "Vendor Specific Information", 44: "NetBIOS over TCP/IP Name Server",
	45: "NetBIOS over TCP/IP Datagram Distribution Server",
	46: "NetBIOS over TCP/IP Node Type", 47: "NetBIOS over TCP/IP Scope",
	48: "X Window System Font Server", 49: "X Window System Display Manager",
	50: "Requested IP Address", 51: "IP Addresses Lease Time", 52: "Option Overload",
	53: "DHCP Message Type", 54: "Server Identifier", 55: "Parameter Request List",
	56: "Message", 57: "Maximum DHCP Message Size", 58: "Renew Time Value",
	59: "Rebinding Time Value", 60: "Class Identifier", 61: "Client identifier",
	62: "NetWare/IP Domain Name", 63: "NetWare/IP Information",
	64: "Network Information Service+ Domain", 65: "Network Information Service+ Servers",
	66: "TFTP Server Name", 67: "Bootfile Name", 68: "Mobile IP Home Agent",
	69: "SMTP Server", 70: "POP Server", 71: "NNTP Server", 72: "Default WWW Server",
	73: "Default Finger Server", 74: "Default IRC Server", 75: "StreetTalk Server",
	76: "StreetTalk Directory Assistance Server", 77: "User Class Information",
	78: "SLP DIrectory Agent", 79: "SLP Service Scope", 80: "Rapid Commit", 81: "FQDN",
	82: "Relay Agent Information", 83: "Internet Storage Name Service",
	85: "NDS Servers", 86: "NDS Tree Name", 87: "NDS Context",
	88: "BCMCS Controller Domain Name List", 89: "BCMCS Controller IPv4 Address List",
	90: "Authentication", 91: "Client Last Transaction Time", 92: "Associated IP",
	93: "Client System Architecture Type", 94: "Client Network Interface Identifier",
	95: "LDAP", 97: "Client Machine Identifier", 98: "OpenGroup's User Authentication",
	99: "GEOCONF_CIVIC", 100: "IEEE 1003.1 TZ String", 101: "Reference to the TZ Database",
	108: "Number of seconds that DHCPv4 should be disabled",
	109: "DHCPv4 over DHCPv6 Softwire Source Address Option",
	112: "NetInfo Parent Server Address", 113: "NetInfo Parent Server Tag", 114: "URL",
	116: "Auto-Configure", 117: "Name Service Search", 118: "Subnet Selection",
	119: "DNS Domain Search List", 120: "SIP Servers", 121: "Classless Static Route",
	122: "CCC, CableLabs Client Configuration", 123: "GeoConf",
	124: "Vendor-Identifying Vendor Class", 125: "Vendor-Identifying Vendor-Specific",
	128: "TFTP Server IP Address", 129: "Call Server IP Address",
	130: "Discrimination String", 131: "RemoteStatistics Server IP Address",
	132: "802.1P VLAN ID", 133: "802.1Q L2 Priority", 134: "Diffserv Code Point",
	135: "HTTP Proxy for phone-specific applications", 136: "PANA Authentication Agent",
	137: "LoST Server", 138: "CAPWAP Access Controller Addresses",
	139: "OPTION-IPv4_Address-MoS", 140: "OPTION-IPv4_FQDN-MoS",
	141: "SIP UA Configuration Service Domains", 142: "OPTION-IPv4_Address-ANDSF",
	143: "OPTION-IPv6_Address-ANDSF", 144: "Geospatial Location with Uncertainty",
	145: "Forcerenew Nonce Capable", 146: "Information for selecting RDNSS",
	150: "TFTP Server Address", 151: "Status Code", 152: "Base Time",
	153: "Start Time of State", 154: "Query Start Time", 155: "Query End Time",
	156: "DHCP Staet", 157: "Data Source", 158: "PCP server IP addresses",
	159: "DHCPv4 Port Parameters", 161: "Manufacturer Usage Description URL",
	175: "Etherboot", 176: "IP Telephone", 177: "Etherboot / PacketCable and CableHome",
	208: "PXELinux Magic String", 209: "PXELinux Config File", 210: "PXELinux Path Prefix",
	211: "PXELinux Reboot Time", 212: "OPTION_6RD", 213: "OPTION_V4_ACCESS_DOMAIN",
	220: "Subnet Allocation", 221: "Virtual Subnet Selection", 255: "End",
}

// unknownOptionNames are built once so naming an unregistered code never
// allocates.
var unknownOptionNames [256]string

func init() {
	for i := range unknownOptionNames {
		unknownOptionNames[i] = "unknown (" + strconv.Itoa(i) + ")"
	}
}

// OptionName is the name of an option code in parameter_request_list.
func OptionName(code uint8) string {
	if s := optionNames[code]; s != "" {
		return s
	}
	return unknownOptionNames[code]
}
