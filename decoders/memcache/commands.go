package memcache

// Command classes, written as memcache.{request,response}.type and, lowercased,
// in event.action ("memcache.store").
const (
	typUnknown    = "UNKNOWN"
	typLoad       = "Load"
	typStore      = "Store"
	typDelete     = "Delete"
	typCounter    = "Counter"
	typInfo       = "Info"
	typSlabCtrl   = "SlabCtrl"
	typLRUCrawler = "LRUCrawler"
	typStats      = "Stats"
	typSuccess    = "Success"
	typFail       = "Fail"
	typAuth       = "Auth"
)

// field flags say which memcache.{request,response}.* members a message
// writes. Packetbeat writes each command's arguments even when an optional
// one was absent (noreply: false, exptime: 0), and so do we: the table
// entry, not the line, decides.
type field uint32

const (
	fKeys field = 1 << iota
	fFlags
	fExptime
	fBytes // declared/received value bytes (text store requests, VALUE responses)
	fNoreply
	fCas
	fDelta
	fValues // count_values (+ values when kept)
	fRawArgs
	fVerbosity
	fSleepUs
	fValue // incr/decr result, lru_crawler tocrawl argument
	fClasses
	fAutomove
	fErrorMsg
	fStats
	fInitial
	fLine
	fVersion
)

// textCmd describes a text protocol command or response keyword.
type textCmd struct {
	name   string // memcache.*.command
	typ    string
	fields field
	args   argKind
}

// argKind selects how the rest of a text line is parsed.
type argKind uint8

const (
	argsNone      argKind = iota
	argsMultiKeys         // get/gets: one or more keys
	argsStore             // <key> <flags> <exptime> <bytes> [noreply], data block follows
	argsCas               // <key> <flags> <exptime> <bytes> <cas unique> [noreply], data follows
	argsCounter           // <key> <delta> [noreply]
	argsTouch             // <key> <exptime> [noreply]
	argsDelete            // <key> [noreply]
	argsFlush             // [exptime] [noreply]
	argsRaw               // kept verbatim (stats, lru_crawler crawl)
	argsValue             // one number into value-like fields (verbosity, sleep, tocrawl, automove)
	argsClasses           // slabs reassign <source> <dest>
	argsNoreply           // [noreply]
	argsSub               // slabs / lru_crawler: subcommand
	argsValueResp         // VALUE <key> <flags> <bytes> [<cas unique>], data follows
	argsStat              // STAT <name> <value>
	argsErrorMsg          // rest of the line is the message
	argsVersion           // rest of the line is the version
)

var textRequests = map[string]*textCmd{
	"get":         {"get", typLoad, fKeys, argsMultiKeys},
	"gets":        {"gets", typLoad, fKeys, argsMultiKeys},
	"set":         {"set", typStore, fKeys | fFlags | fExptime | fBytes | fNoreply | fValues, argsStore},
	"add":         {"add", typStore, fKeys | fFlags | fExptime | fBytes | fNoreply | fValues, argsStore},
	"replace":     {"replace", typStore, fKeys | fFlags | fExptime | fBytes | fNoreply | fValues, argsStore},
	"append":      {"append", typStore, fKeys | fFlags | fExptime | fBytes | fNoreply | fValues, argsStore},
	"prepend":     {"prepend", typStore, fKeys | fFlags | fExptime | fBytes | fNoreply | fValues, argsStore},
	"cas":         {"cas", typStore, fKeys | fFlags | fExptime | fBytes | fNoreply | fValues | fCas, argsCas},
	"incr":        {"incr", typCounter, fKeys | fDelta | fNoreply, argsCounter},
	"decr":        {"decr", typCounter, fKeys | fDelta | fNoreply, argsCounter},
	"touch":       {"touch", typStore, fKeys | fExptime | fNoreply, argsTouch},
	"delete":      {"delete", typDelete, fKeys | fNoreply, argsDelete},
	"flush_all":   {"flush_all", typDelete, fExptime, argsFlush},
	"stats":       {"stats", typStats, fRawArgs, argsRaw},
	"verbosity":   {"verbosity", typInfo, fVerbosity, argsValue},
	"version":     {"version", typInfo, 0, argsNone},
	"quit":        {"quit", typInfo, fNoreply, argsNoreply},
	"slabs":       {"slabs", typSlabCtrl, 0, argsSub},
	"lru_crawler": {"lru_crawler", typLRUCrawler, 0, argsSub},
}

var slabsCommands = map[string]*textCmd{
	"reassign": {"slabs reassign", typSlabCtrl, fClasses, argsClasses},
	"automove": {"slabs automove", typSlabCtrl, fAutomove, argsValue},
}

var lruCrawlerCommands = map[string]*textCmd{
	"enable":  {"lru_crawler enable", typLRUCrawler, 0, argsNone},
	"disable": {"lru_crawler disable", typLRUCrawler, 0, argsNone},
	"sleep":   {"lru_crawler sleep", typLRUCrawler, fSleepUs, argsValue},
	"tocrawl": {"lru_crawler tocrawl", typLRUCrawler, fValue, argsValue},
	"crawl":   {"lru_crawler crawl", typLRUCrawler, fRawArgs, argsRaw},
}

var (
	cmdUnknown = &textCmd{"UNKNOWN", typUnknown, fLine, argsNone}
	cmdCounter = &textCmd{"<counter_op_res>", typCounter, fValue, argsNone}
	cmdValue   = textResponses["VALUE"]
	cmdStat    = textResponses["STAT"]
	cmdEnd     = textResponses["END"]
)

var textResponses = map[string]*textCmd{
	"VALUE":        {"VALUE", typLoad, fKeys | fFlags | fBytes | fCas | fValues, argsValueResp},
	"END":          {"END", typLoad, 0, argsNone},
	"STORED":       {"STORED", typSuccess, 0, argsNone},
	"NOT_STORED":   {"NOT_STORED", typFail, 0, argsNone},
	"EXISTS":       {"EXISTS", typSuccess, 0, argsNone},
	"NOT_FOUND":    {"NOT_FOUND", typFail, 0, argsNone},
	"TOUCHED":      {"TOUCHED", typSuccess, 0, argsNone},
	"DELETED":      {"DELETED", typSuccess, 0, argsNone},
	"OK":           {"OK", typSuccess, 0, argsNone},
	"ERROR":        {"ERROR", typFail, 0, argsNone},
	"CLIENT_ERROR": {"CLIENT_ERROR", typFail, fErrorMsg, argsErrorMsg},
	"SERVER_ERROR": {"SERVER_ERROR", typFail, fErrorMsg, argsErrorMsg},
	"BUSY":         {"BUSY", typFail, fErrorMsg, argsErrorMsg},
	"BADCLASS":     {"BADCLASS", typFail, fErrorMsg, argsErrorMsg},
	"NOSPARE":      {"NOSPARE", typFail, fErrorMsg, argsErrorMsg},
	"NOTFULL":      {"NOTFULL", typFail, fErrorMsg, argsErrorMsg},
	"UNSAFE":       {"UNSAFE", typFail, fErrorMsg, argsErrorMsg},
	"SAME":         {"SAME", typFail, fErrorMsg, argsErrorMsg},
	"STAT":         {"STAT", typStats, fStats, argsStat},
	"VERSION":      {"VERSION", typInfo, fVersion, argsVersion},
}

// Binary protocol (https://github.com/memcached/memcached/wiki/BinaryProtocolRevamped).
const (
	magicRequest  = 0x80
	magicResponse = 0x81
	binHeaderLen  = 24
)

// binary extras layouts.
type extrasKind uint8

const (
	exNone      extrasKind = iota
	exFlags                // get responses: flags (4)
	exStore                // set/add/replace requests: flags (4), exptime (4)
	exCounter              // incr/decr requests: delta (8), initial (8), exptime (4)
	exExptime              // touch, gat, flush requests: exptime (4)
	exVerbosity            // verbosity request: level (4)
)

// binCmd describes an opcode. command/typ are the text protocol terms
// Packetbeat translates opcodes to.
type binCmd struct {
	opcode  string
	command string
	typ     string
	quiet   bool
	req     extrasKind
	resp    extrasKind
}

var binCommands [256]*binCmd

var cmdBinUnknown = &binCmd{command: "UNKNOWN", typ: typUnknown}

func init() {
	def := func(code byte, opcode, command, typ string, quiet bool, req, resp extrasKind) {
		binCommands[code] = &binCmd{opcode, command, typ, quiet, req, resp}
	}
	def(0x00, "Get", "get", typLoad, false, exNone, exFlags)
	def(0x09, "GetQ", "get", typLoad, true, exNone, exFlags)
	def(0x0c, "GetK", "get", typLoad, false, exNone, exFlags)
	def(0x0d, "GetKQ", "get", typLoad, true, exNone, exFlags)
	def(0x01, "Set", "set", typStore, false, exStore, exNone)
	def(0x11, "SetQ", "set", typStore, true, exStore, exNone)
	def(0x02, "Add", "add", typStore, false, exStore, exNone)
	def(0x12, "AddQ", "add", typStore, true, exStore, exNone)
	def(0x03, "Replace", "replace", typStore, false, exStore, exNone)
	def(0x13, "ReplaceQ", "replace", typStore, true, exStore, exNone)
	def(0x0e, "Append", "append", typStore, false, exNone, exNone)
	def(0x19, "AppendQ", "append", typStore, true, exNone, exNone)
	def(0x0f, "Prepend", "prepend", typStore, false, exNone, exNone)
	def(0x1a, "PrependQ", "prepend", typStore, true, exNone, exNone)
	def(0x04, "Delete", "delete", typDelete, false, exNone, exNone)
	def(0x14, "DeleteQ", "delete", typDelete, true, exNone, exNone)
	def(0x05, "Increment", "incr", typCounter, false, exCounter, exNone)
	def(0x15, "IncrementQ", "incr", typCounter, true, exCounter, exNone)
	def(0x06, "Decrement", "decr", typCounter, false, exCounter, exNone)
	def(0x16, "DecrementQ", "decr", typCounter, true, exCounter, exNone)
	def(0x07, "Quit", "quit", typInfo, false, exNone, exNone)
	def(0x17, "QuitQ", "quit", typInfo, true, exNone, exNone)
	def(0x08, "Flush", "flush_all", typDelete, false, exExptime, exNone)
	def(0x18, "FlushQ", "flush_all", typDelete, true, exExptime, exNone)
	def(0x0a, "No-op", "noop", typInfo, false, exNone, exNone)
	def(0x0b, "Version", "version", typInfo, false, exNone, exNone)
	def(0x10, "Stat", "stats", typStats, false, exNone, exNone)
	def(0x1b, "Verbosity", "verbosity", typInfo, false, exVerbosity, exNone)
	def(0x1c, "Touch", "touch", typStore, false, exExptime, exNone)
	def(0x1d, "GAT", "touch", typStore, false, exExptime, exFlags)
	def(0x1e, "GATQ", "touch", typStore, true, exExptime, exFlags)
	def(0x23, "GatK", "touch", typStore, false, exExptime, exFlags)
	def(0x24, "GatKQ", "touch", typStore, true, exExptime, exFlags)
	def(0x20, "SASL list mechs", "sasl_list", typAuth, false, exNone, exNone)
	def(0x21, "SASL Auth", "sasl_auth", typAuth, false, exNone, exNone)
	def(0x22, "SASL Step", "sasl_step", typAuth, false, exNone, exNone)
}

const (
	opcodeGetQ    = 0x09
	opcodeGetKQ   = 0x0d
	opcodeQuitQ   = 0x17
	opcodeIncr    = 0x05
	opcodeDecr    = 0x06
	opcodeIncrQ   = 0x15
	opcodeDecrQ   = 0x16
	opcodeStat    = 0x10
	opcodeVersion = 0x0b
)

// statusNames are the binary response status names Packetbeat writes.
var statusNames = map[uint16]string{
	0x00: "Success",
	0x01: "Key not found",
	0x02: "Key exists",
	0x03: "Value too large",
	0x04: "Invalid arguments",
	0x05: "Item not stored",
	0x06: "Incr/Decr on non-numeric value.",
	0x07: "The vbucket belongs to another server",
	0x20: "Authentication error",
	0x21: "Authentication continue",
	0x81: "Unknown command",
	0x82: "Out of memory",
	0x83: "Not supported",
	0x84: "Internal error",
	0x85: "Busy",
	0x86: "Temporary failure",
}
