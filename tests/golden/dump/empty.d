# bpfc dump golden; program: empty (synthetic, tests/make_golden.py); linktype: none; tool: libpcap version 1.10.3 (with TPACKET_V3) bpf_dump(option=1) via ctypes
