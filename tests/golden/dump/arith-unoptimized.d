# bpfc dump golden; filter: 'ip[1] * 3 / 2 % 7 | 1 ^ 2 == (ip[2] << 1 >> 1) & 0xff and -ip[0] != 0 and len - 1 > 0'; linktype: EN10MB; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -O -r <empty EN10MB savefile, snaplen 262144>
(000) ldh      [12]
(001) jeq      #0x800           jt 2	jf 96
(002) ldh      [12]
(003) jeq      #0x800           jt 4	jf 96
(004) ld       #0x1
(005) st       M[0]
(006) ldx      M[0]
(007) ldb      [x + 14]
(008) st       M[1]
(009) ld       #0x3
(010) st       M[2]
(011) ldx      M[2]
(012) ld       M[1]
(013) mul      x
(014) st       M[2]
(015) ld       #0x2
(016) st       M[3]
(017) ld       #0x7
(018) st       M[4]
(019) ld       #0x1
(020) st       M[5]
(021) ld       #0x2
(022) st       M[6]
(023) ldx      M[6]
(024) ld       M[5]
(025) xor      x
(026) st       M[6]
(027) ldx      M[6]
(028) ld       M[4]
(029) or       x
(030) st       M[6]
(031) ldx      M[6]
(032) ld       M[3]
(033) mod      x
(034) st       M[6]
(035) ldx      M[6]
(036) ld       M[2]
(037) div      x
(038) st       M[6]
(039) ld       #0x2
(040) st       M[7]
(041) ldx      M[7]
(042) ldb      [x + 14]
(043) st       M[8]
(044) ld       #0x1
(045) st       M[9]
(046) ldx      M[9]
(047) ld       M[8]
(048) lsh      x
(049) st       M[9]
(050) ld       #0x1
(051) st       M[10]
(052) ldx      M[10]
(053) ld       M[9]
(054) rsh      x
(055) st       M[10]
(056) ld       #0xff
(057) st       M[11]
(058) ldx      M[11]
(059) ld       M[10]
(060) and      x
(061) st       M[11]
(062) ldx      M[11]
(063) ld       M[6]
(064) sub      x
(065) jeq      #0x0             jt 66	jf 96
(066) ldh      [12]
(067) jeq      #0x800           jt 68	jf 96
(068) ld       #0x0
(069) st       M[11]
(070) ldx      M[11]
(071) ldb      [x + 14]
(072) st       M[12]
(073) ld       M[12]
(074) neg      
(075) st       M[12]
(076) ld       #0x0
(077) st       M[13]
(078) ldx      M[13]
(079) ld       M[12]
(080) sub      x
(081) jeq      #0x0             jt 96	jf 82
(082) ld       #pktlen
(083) st       M[13]
(084) ld       #0x1
(085) st       M[14]
(086) ldx      M[14]
(087) ld       M[13]
(088) sub      x
(089) st       M[14]
(090) ld       #0x0
(091) st       M[15]
(092) ldx      M[15]
(093) ld       M[14]
(094) jgt      x                jt 95	jf 96
(095) ret      #262144
(096) ret      #0
