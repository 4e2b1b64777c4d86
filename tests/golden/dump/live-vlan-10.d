# bpfc dump golden; filter: 'vlan 10'; linktype: EN10MB; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -i lo
(000) ldb      [vlanp]
(001) jeq      #0x1             jt 6	jf 2
(002) ldh      [12]
(003) jeq      #0x8100          jt 6	jf 4
(004) jeq      #0x88a8          jt 6	jf 5
(005) jeq      #0x9100          jt 6	jf 14
(006) ldb      [vlanp]
(007) jeq      #0x1             jt 8	jf 10
(008) ldb      [vlan_tci]
(009) ja       11
(010) ldh      [14]
(011) and      #0xfff
(012) jeq      #0xa             jt 13	jf 14
(013) ret      #262144
(014) ret      #0
