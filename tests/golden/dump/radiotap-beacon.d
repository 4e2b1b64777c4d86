# bpfc dump golden; filter: 'wlan type mgt subtype beacon'; linktype: IEEE802_11_RADIO; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -r <empty IEEE802_11_RADIO savefile, snaplen 262144>
(000) ldb      [3]
(001) lsh      #8
(002) tax      
(003) ldb      [2]
(004) or       x
(005) tax      
(006) ldb      [x + 0]
(007) and      #0xfc
(008) jeq      #0x80            jt 9	jf 10
(009) ret      #262144
(010) ret      #0
