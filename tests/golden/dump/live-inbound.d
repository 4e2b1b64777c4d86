# bpfc dump golden; filter: 'inbound'; linktype: EN10MB; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -i lo
(000) ldh      [type]
(001) jeq      #0x4             jt 2	jf 3
(002) ret      #0
(003) ret      #262144
