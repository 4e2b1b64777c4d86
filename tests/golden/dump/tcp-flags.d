# bpfc dump golden; filter: 'tcp[tcpflags] & (tcp-syn|tcp-fin) != 0'; linktype: EN10MB; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -r <empty EN10MB savefile, snaplen 262144>
(000) ldh      [12]
(001) jeq      #0x800           jt 2	jf 10
(002) ldb      [23]
(003) jeq      #0x6             jt 4	jf 10
(004) ldh      [20]
(005) jset     #0x1fff          jt 10	jf 6
(006) ldxb     4*([14]&0xf)
(007) ldb      [x + 27]
(008) jset     #0x3             jt 9	jf 10
(009) ret      #262144
(010) ret      #0
