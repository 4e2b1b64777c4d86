# bpfc dump golden; filter: 'net 172.16.0.0 mask 255.240.0.0 or ether broadcast'; linktype: EN10MB; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -r <empty EN10MB savefile, snaplen 262144>
(000) ldh      [12]
(001) jeq      #0x800           jt 2	jf 8
(002) ld       [26]
(003) and      #0xfff00000
(004) jeq      #0xac100000      jt 20	jf 5
(005) ld       [30]
(006) and      #0xfff00000
(007) jeq      #0xac100000      jt 20	jf 16
(008) jeq      #0x806           jt 10	jf 9
(009) jeq      #0x8035          jt 10	jf 16
(010) ld       [28]
(011) and      #0xfff00000
(012) jeq      #0xac100000      jt 20	jf 13
(013) ld       [38]
(014) and      #0xfff00000
(015) jeq      #0xac100000      jt 20	jf 16
(016) ld       [2]
(017) jeq      #0xffffffff      jt 18	jf 21
(018) ldh      [0]
(019) jeq      #0xffff          jt 20	jf 21
(020) ret      #262144
(021) ret      #0
