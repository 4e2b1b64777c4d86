# bpfc dump golden; filter: 'ip and udp port 53'; linktype: LINUX_SLL; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -r <empty LINUX_SLL savefile, snaplen 262144>
(000) ldh      [14]
(001) jeq      #0x800           jt 2	jf 12
(002) ldb      [25]
(003) jeq      #0x11            jt 4	jf 12
(004) ldh      [22]
(005) jset     #0x1fff          jt 12	jf 6
(006) ldxb     4*([16]&0xf)
(007) ldh      [x + 16]
(008) jeq      #0x35            jt 11	jf 9
(009) ldh      [x + 18]
(010) jeq      #0x35            jt 11	jf 12
(011) ret      #262144
(012) ret      #0
