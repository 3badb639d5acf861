"""HELP of the container commands whose families live in several modules:
CLIENT, COMMAND, CONFIG, FUNCTION, LATENCY, MEMORY, PUBSUB, SCRIPT and
SLOWLOG (OBJECT, XGROUP and XINFO answer their own).  Each lists the
subcommands pulsards implements, in the layout of Redis' HELP replies; the
texts are pulsards' own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ..reply import help_reply
from ..table import command

if TYPE_CHECKING:
    from ..protocol import Client

__all__ = ["HELPS"]

# container -> (subcommand with its arguments, what it does)
HELPS: Final[dict[str, list[tuple[str, str]]]] = {
    "CLIENT": [
        ("CACHING (YES|NO)", "Track (OPTIN) or leave out (OPTOUT) the keys the next command "
                             "reads."),
        ("GETNAME", "Return the name of this connection."),
        ("GETREDIR", "Return the client invalidations go to (-1: tracking is off)."),
        ("ID", "Return the id of this connection."),
        ("INFO", "Return this connection's line of CLIENT LIST."),
        ("KILL <ip:port> | <filter> <value> ...", "Close the connections that match "
                                                 "(ID, ADDR, LADDR, TYPE, USER, SKIPME)."),
        ("LIST [TYPE <type>] [ID <id> ...]", "Describe the connections, one line each."),
        ("NO-EVICT (ON|OFF)", "Accepted: pulsards never evicts a client."),
        ("PAUSE <milliseconds> [WRITE|ALL]", "Hold every command (ALL) or the writes "
                                             "(WRITE) of all clients for a while."),
        ("REPLY (ON|OFF|SKIP)", "Answer every command, none, or all but the next one."),
        ("SETNAME <name>", "Name this connection."),
        ("TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> ...] [OPTIN] "
         "[OPTOUT] [NOLOOP]", "Be told when the keys this connection read change."),
        ("TRACKINGINFO", "Return the tracking options of this connection."),
        ("UNBLOCK <id> [TIMEOUT|ERROR]", "End another connection's blocking command."),
        ("UNPAUSE", "End CLIENT PAUSE: the held commands run."),
    ],
    "COMMAND": [
        ("(no subcommand)", "Describe every command."),
        ("COUNT", "Return how many commands there are."),
        ("DOCS [<name> ...]", "Return the documentation of commands (none is kept)."),
        ("GETKEYS <command> [<arg> ...]", "Return the keys a command would use."),
        ("GETKEYSANDFLAGS <command> [<arg> ...]", "Return the keys a command would use, "
                                                  "each with its flags (RO, RW, access...)."),
        ("INFO [<name> ...]", "Describe the named commands."),
        ("LIST [FILTERBY (MODULE <name>|ACLCAT <category>|PATTERN <pattern>)]",
         "Return the names of the commands and subcommands."),
    ],
    "CONFIG": [
        ("GET <pattern> [<pattern> ...]", "Return the options matching the glob patterns."),
        ("SET <option> <value> [<option> <value> ...]", "Change options at run time."),
        ("RESETSTAT", "Zero the counters INFO reports."),
    ],
    "FUNCTION": [
        ("DELETE <library>", "Delete a library and its functions."),
        ("DUMP", "Return every library as a payload FUNCTION RESTORE takes."),
        ("FLUSH [ASYNC|SYNC]", "Delete every library."),
        ("KILL", "End the running function (pulsards ends a long read-only one itself)."),
        ("LIST [LIBRARYNAME <pattern>] [WITHCODE]", "Describe the libraries and their "
                                                    "functions."),
        ("LOAD [REPLACE] <code>", "Load a library whose first line is #!lua name=<name>."),
        ("RESTORE <payload> [FLUSH|APPEND|REPLACE]", "Load the libraries of a FUNCTION DUMP "
                                                     "payload."),
        ("STATS", "Return the number of libraries and functions."),
    ],
    "LATENCY": [
        ("DOCTOR", "Report the latency events recorded."),
        ("GRAPH <event>", "Draw an event's samples."),
        ("HISTOGRAM [<command> ...]", "Per-command histograms: none are kept "
                                      "(latency-tracking no)."),
        ("HISTORY <event>", "Return an event's samples: unix time and milliseconds."),
        ("LATEST", "Return each event's name, last time, last and worst milliseconds."),
        ("RESET [<event> ...]", "Forget the events' samples; how many were reset."),
    ],
    "MEMORY": [
        ("USAGE <key> [SAMPLES <count>]", "Estimate the bytes a key and its value take."),
    ],
    "PUBSUB": [
        ("CHANNELS [<pattern>]", "Return the channels with subscribers."),
        ("NUMPAT", "Return how many pattern subscriptions there are."),
        ("NUMSUB [<channel> ...]", "Return the subscriber count of each channel."),
        ("SHARDCHANNELS [<pattern>]", "Return the shard channels with subscribers."),
        ("SHARDNUMSUB [<shardchannel> ...]", "Return the subscriber count of each shard "
                                              "channel."),
    ],
    "SLOWLOG": [
        ("GET [<count>]", "Return the newest <count> entries (10; -1: all): id, unix time, "
                          "microseconds, arguments, client address and name."),
        ("LEN", "Return how many entries the log holds."),
        ("RESET", "Empty the log."),
    ],
    "SCRIPT": [
        ("EXISTS <sha1> [<sha1> ...]", "Say which scripts are cached (1) or not (0)."),
        ("FLUSH [ASYNC|SYNC]", "Empty the script cache."),
        ("KILL", "End the running script (pulsards ends a long read-only one itself)."),
        ("LOAD <script>", "Cache a script and return its SHA1."),
    ],
}


def _lines(name: str) -> list[str]:
    lines = [f"{name} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"]
    for usage, text in [*HELPS[name], ("HELP", "Print this help.")]:
        lines += (usage, f"    {text}")
    return lines


def _register(name: str) -> None:
    text = _lines(name)

    @command(f"{name}|HELP")
    def help_(c: Client, args: list[bytes]) -> bytes:
        return help_reply(text)


for _name in HELPS:
    _register(_name)
