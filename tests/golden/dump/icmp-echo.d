# bpfc dump golden; filter: 'icmp[icmptype] == icmp-echo or greater 1000'; linktype: EN10MB; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -r <empty EN10MB savefile, snaplen 262144>
(000) ldh      [12]
(001) jeq      #0x800           jt 2	jf 9
(002) ldb      [23]
(003) jeq      #0x1             jt 4	jf 9
(004) ldh      [20]
(005) jset     #0x1fff          jt 9	jf 6
(006) ldxb     4*([14]&0xf)
(007) ldb      [x + 14]
(008) jeq      #0x8             jt 11	jf 9
(009) ld       #pktlen
(010) jge      #0x3e8           jt 11	jf 12
(011) ret      #262144
(012) ret      #0
