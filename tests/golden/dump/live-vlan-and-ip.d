# bpfc dump golden; filter: 'vlan and ip'; linktype: EN10MB; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -i lo
(000) ld       #0x0
(001) st       M[1]
(002) ldb      [vlanp]
(003) jeq      #0x1             jt 10	jf 4
(004) ld       #0x4
(005) st       M[1]
(006) ldh      [12]
(007) jeq      #0x8100          jt 10	jf 8
(008) jeq      #0x88a8          jt 10	jf 9
(009) jeq      #0x9100          jt 10	jf 14
(010) ldx      M[1]
(011) ldh      [x + 12]
(012) jeq      #0x800           jt 13	jf 14
(013) ret      #262144
(014) ret      #0
