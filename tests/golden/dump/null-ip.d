# bpfc dump golden; filter: 'ip'; linktype: NULL; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -r <empty NULL savefile, snaplen 262144>
(000) ld       [0]
(001) jeq      #0x2000000       jt 2	jf 3
(002) ret      #262144
(003) ret      #0
