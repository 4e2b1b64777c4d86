# bpfc dump golden; program: unknown-opcodes (synthetic, tests/make_golden.py); linktype: none; tool: libpcap version 1.10.3 (with TPACKET_V3) bpf_dump(option=1) via ctypes
(000) unimp    0x8
(001) unimp    0x9
(002) unimp    0xa
(003) unimp    0xb
(004) unimp    0xd
(005) unimp    0xe
(006) unimp    0xf
(007) unimp    0x10
(008) unimp    0x11
(009) unimp    0x12
(010) unimp    0x13
(011) unimp    0x17
(012) unimp    0x18
(013) unimp    0x19
(014) unimp    0x1a
(015) unimp    0x1b
(016) unimp    0x1e
(017) unimp    0x1f
(018) unimp    0x21
(019) unimp    0x22
(020) unimp    0x23
(021) unimp    0x26
(022) unimp    0x27
(023) unimp    0x29
(024) unimp    0x2a
(025) unimp    0x2b
(026) unimp    0x2e
(027) unimp    0x2f
(028) unimp    0x31
(029) unimp    0x32
(030) unimp    0x33
(031) unimp    0x36
(032) unimp    0x37
(033) unimp    0x38
(034) unimp    0x39
(035) unimp    0x3a
(036) unimp    0x3b
(037) unimp    0x3e
(038) unimp    0x3f
(039) unimp    0x41
(040) unimp    0x42
(041) unimp    0x43
(042) unimp    0x46
(043) unimp    0x47
(044) unimp    0x49
(045) unimp    0x4a
(046) unimp    0x4b
(047) unimp    0x4e
(048) unimp    0x4f
(049) unimp    0x51
(050) unimp    0x52
(051) unimp    0x53
(052) unimp    0x55             jt 106	jf 107
(053) unimp    0x56
(054) unimp    0x57
(055) unimp    0x58
(056) unimp    0x59
(057) unimp    0x5a
(058) unimp    0x5b
(059) unimp    0x5d             jt 120	jf 121
(060) unimp    0x5e
(061) unimp    0x5f
(062) unimp    0x62
(063) unimp    0x63
(064) unimp    0x65             jt 130	jf 131
(065) unimp    0x66
(066) unimp    0x67
(067) unimp    0x68
(068) unimp    0x69
(069) unimp    0x6a
(070) unimp    0x6b
(071) unimp    0x6d             jt 144	jf 145
(072) unimp    0x6e
(073) unimp    0x6f
(074) unimp    0x70
(075) unimp    0x71
(076) unimp    0x72
(077) unimp    0x73
(078) unimp    0x75             jt 158	jf 159
(079) unimp    0x76
(080) unimp    0x77
(081) unimp    0x78
(082) unimp    0x79
(083) unimp    0x7a
(084) unimp    0x7b
(085) unimp    0x7d             jt 172	jf 173
(086) unimp    0x7e
(087) unimp    0x7f
(088) unimp    0x82
(089) unimp    0x83
(090) unimp    0x85             jt 182	jf 183
(091) unimp    0x86
(092) unimp    0x88
(093) unimp    0x89
(094) unimp    0x8a
(095) unimp    0x8b
(096) unimp    0x8c
(097) unimp    0x8d             jt 196	jf 197
(098) unimp    0x8e
(099) unimp    0x8f
(100) unimp    0x90
(101) unimp    0x91
(102) unimp    0x92
(103) unimp    0x93
(104) unimp    0x95             jt 210	jf 211
(105) unimp    0x96
(106) unimp    0x97
(107) unimp    0x98
(108) unimp    0x99
(109) unimp    0x9a
(110) unimp    0x9b
(111) unimp    0x9d             jt 224	jf 225
(112) unimp    0x9e
(113) unimp    0x9f
(114) unimp    0xa0
(115) unimp    0xa1
(116) unimp    0xa2
(117) unimp    0xa3
(118) unimp    0xa5             jt 238	jf 239
(119) unimp    0xa6
(120) unimp    0xa7
(121) unimp    0xa8
(122) unimp    0xa9
(123) unimp    0xaa
(124) unimp    0xab
(125) unimp    0xad             jt 252	jf 253
(126) unimp    0xae
(127) unimp    0xaf
(128) unimp    0xb0
(129) unimp    0xb2
(130) unimp    0xb3
(131) unimp    0xb4
(132) unimp    0xb5             jt 266	jf 267
(133) unimp    0xb6
(134) unimp    0xb7
(135) unimp    0xb8
(136) unimp    0xb9
(137) unimp    0xba
(138) unimp    0xbb
(139) unimp    0xbc
(140) unimp    0xbd             jt 282	jf 283
(141) unimp    0xbe
(142) unimp    0xbf
(143) unimp    0xc0
(144) unimp    0xc1
(145) unimp    0xc2
(146) unimp    0xc3
(147) unimp    0xc4
(148) unimp    0xc5             jt 298	jf 299
(149) unimp    0xc6
(150) unimp    0xc7
(151) unimp    0xc8
(152) unimp    0xc9
(153) unimp    0xca
(154) unimp    0xcb
(155) unimp    0xcc
(156) unimp    0xcd             jt 314	jf 315
(157) unimp    0xce
(158) unimp    0xcf
(159) unimp    0xd0
(160) unimp    0xd1
(161) unimp    0xd2
(162) unimp    0xd3
(163) unimp    0xd4
(164) unimp    0xd5             jt 330	jf 331
(165) unimp    0xd6
(166) unimp    0xd7
(167) unimp    0xd8
(168) unimp    0xd9
(169) unimp    0xda
(170) unimp    0xdb
(171) unimp    0xdc
(172) unimp    0xdd             jt 346	jf 347
(173) unimp    0xde
(174) unimp    0xdf
(175) unimp    0xe0
(176) unimp    0xe1
(177) unimp    0xe2
(178) unimp    0xe3
(179) unimp    0xe4
(180) unimp    0xe5             jt 362	jf 363
(181) unimp    0xe6
(182) unimp    0xe7
(183) unimp    0xe8
(184) unimp    0xe9
(185) unimp    0xea
(186) unimp    0xeb
(187) unimp    0xec
(188) unimp    0xed             jt 378	jf 379
(189) unimp    0xee
(190) unimp    0xef
(191) unimp    0xf0
(192) unimp    0xf1
(193) unimp    0xf2
(194) unimp    0xf3
(195) unimp    0xf4
(196) unimp    0xf5             jt 394	jf 395
(197) unimp    0xf6
(198) unimp    0xf7
(199) unimp    0xf8
(200) unimp    0xf9
(201) unimp    0xfa
(202) unimp    0xfb
(203) unimp    0xfc
(204) unimp    0xfd             jt 410	jf 411
(205) unimp    0xfe
(206) unimp    0xff
(207) unimp    0x81
(208) unimp    0x100
(209) unimp    0x1234
(210) unimp    0x8000
(211) unimp    0xffff
