# bpfc dump golden; filter: 'len % 4 == 0'; linktype: EN10MB; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -r <empty EN10MB savefile, snaplen 262144>
(000) ld       #pktlen
(001) mod      #4
(002) jeq      #0x0             jt 3	jf 4
(003) ret      #262144
(004) ret      #0
