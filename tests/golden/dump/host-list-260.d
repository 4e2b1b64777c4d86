# bpfc dump golden; filter: 'host 10.0.0.0 or host 10.0.0.1 or host 10.0.0.2 or host 10.0.0.3 or host 10.0.0.4 or host 10.0.0.5 or host 10.0.0.6 or host 10.0.0.7 or host 10.0.0.8 or host 10.0.0.9 or host 10.0.0.10 or host 10.0.0.11 or host 10.0.0.12 or host 10.0.0.13 or host 10.0.0.14 or host 10.0.0.15 or host 10.0.0.16 or host 10.0.0.17 or host 10.0.0.18 or host 10.0.0.19 or host 10.0.0.20 or host 10.0.0.21 or host 10.0.0.22 or host 10.0.0.23 or host 10.0.0.24 or host 10.0.0.25 or host 10.0.0.26 or host 10.0.0.27 or host 10.0.0.28 or host 10.0.0.29 or host 10.0.0.30 or host 10.0.0.31 or host 10.0.0.32 or host 10.0.0.33 or host 10.0.0.34 or host 10.0.0.35 or host 10.0.0.36 or host 10.0.0.37 or host 10.0.0.38 or host 10.0.0.39 or host 10.0.0.40 or host 10.0.0.41 or host 10.0.0.42 or host 10.0.0.43 or host 10.0.0.44 or host 10.0.0.45 or host 10.0.0.46 or host 10.0.0.47 or host 10.0.0.48 or host 10.0.0.49 or host 10.0.0.50 or host 10.0.0.51 or host 10.0.0.52 or host 10.0.0.53 or host 10.0.0.54 or host 10.0.0.55 or host 10.0.0.56 or host 10.0.0.57 or host 10.0.0.58 or host 10.0.0.59 or host 10.0.0.60 or host 10.0.0.61 or host 10.0.0.62 or host 10.0.0.63 or host 10.0.0.64 or host 10.0.0.65 or host 10.0.0.66 or host 10.0.0.67 or host 10.0.0.68 or host 10.0.0.69 or host 10.0.0.70 or host 10.0.0.71 or host 10.0.0.72 or host 10.0.0.73 or host 10.0.0.74 or host 10.0.0.75 or host 10.0.0.76 or host 10.0.0.77 or host 10.0.0.78 or host 10.0.0.79 or host 10.0.0.80 or host 10.0.0.81 or host 10.0.0.82 or host 10.0.0.83 or host 10.0.0.84 or host 10.0.0.85 or host 10.0.0.86 or host 10.0.0.87 or host 10.0.0.88 or host 10.0.0.89 or host 10.0.0.90 or host 10.0.0.91 or host 10.0.0.92 or host 10.0.0.93 or host 10.0.0.94 or host 10.0.0.95 or host 10.0.0.96 or host 10.0.0.97 or host 10.0.0.98 or host 10.0.0.99 or host 10.0.0.100 or host 10.0.0.101 or host 10.0.0.102 or host 10.0.0.103 or host 10.0.0.104 or host 10.0.0.105 or host 10.0.0.106 or host 10.0.0.107 or host 10.0.0.108 or host 10.0.0.109 or host 10.0.0.110 or host 10.0.0.111 or host 10.0.0.112 or host 10.0.0.113 or host 10.0.0.114 or host 10.0.0.115 or host 10.0.0.116 or host 10.0.0.117 or host 10.0.0.118 or host 10.0.0.119 or host 10.0.0.120 or host 10.0.0.121 or host 10.0.0.122 or host 10.0.0.123 or host 10.0.0.124 or host 10.0.0.125 or host 10.0.0.126 or host 10.0.0.127 or host 10.0.0.128 or host 10.0.0.129 or host 10.0.0.130 or host 10.0.0.131 or host 10.0.0.132 or host 10.0.0.133 or host 10.0.0.134 or host 10.0.0.135 or host 10.0.0.136 or host 10.0.0.137 or host 10.0.0.138 or host 10.0.0.139 or host 10.0.0.140 or host 10.0.0.141 or host 10.0.0.142 or host 10.0.0.143 or host 10.0.0.144 or host 10.0.0.145 or host 10.0.0.146 or host 10.0.0.147 or host 10.0.0.148 or host 10.0.0.149 or host 10.0.0.150 or host 10.0.0.151 or host 10.0.0.152 or host 10.0.0.153 or host 10.0.0.154 or host 10.0.0.155 or host 10.0.0.156 or host 10.0.0.157 or host 10.0.0.158 or host 10.0.0.159 or host 10.0.0.160 or host 10.0.0.161 or host 10.0.0.162 or host 10.0.0.163 or host 10.0.0.164 or host 10.0.0.165 or host 10.0.0.166 or host 10.0.0.167 or host 10.0.0.168 or host 10.0.0.169 or host 10.0.0.170 or host 10.0.0.171 or host 10.0.0.172 or host 10.0.0.173 or host 10.0.0.174 or host 10.0.0.175 or host 10.0.0.176 or host 10.0.0.177 or host 10.0.0.178 or host 10.0.0.179 or host 10.0.0.180 or host 10.0.0.181 or host 10.0.0.182 or host 10.0.0.183 or host 10.0.0.184 or host 10.0.0.185 or host 10.0.0.186 or host 10.0.0.187 or host 10.0.0.188 or host 10.0.0.189 or host 10.0.0.190 or host 10.0.0.191 or host 10.0.0.192 or host 10.0.0.193 or host 10.0.0.194 or host 10.0.0.195 or host 10.0.0.196 or host 10.0.0.197 or host 10.0.0.198 or host 10.0.0.199 or host 10.0.0.200 or host 10.0.0.201 or host 10.0.0.202 or host 10.0.0.203 or host 10.0.0.204 or host 10.0.0.205 or host 10.0.0.206 or host 10.0.0.207 or host 10.0.0.208 or host 10.0.0.209 or host 10.0.0.210 or host 10.0.0.211 or host 10.0.0.212 or host 10.0.0.213 or host 10.0.0.214 or host 10.0.0.215 or host 10.0.0.216 or host 10.0.0.217 or host 10.0.0.218 or host 10.0.0.219 or host 10.0.0.220 or host 10.0.0.221 or host 10.0.0.222 or host 10.0.0.223 or host 10.0.0.224 or host 10.0.0.225 or host 10.0.0.226 or host 10.0.0.227 or host 10.0.0.228 or host 10.0.0.229 or host 10.0.0.230 or host 10.0.0.231 or host 10.0.0.232 or host 10.0.0.233 or host 10.0.0.234 or host 10.0.0.235 or host 10.0.0.236 or host 10.0.0.237 or host 10.0.0.238 or host 10.0.0.239 or host 10.0.0.240 or host 10.0.0.241 or host 10.0.0.242 or host 10.0.0.243 or host 10.0.0.244 or host 10.0.0.245 or host 10.0.0.246 or host 10.0.0.247 or host 10.0.0.248 or host 10.0.0.249 or host 10.0.1.0 or host 10.0.1.1 or host 10.0.1.2 or host 10.0.1.3 or host 10.0.1.4 or host 10.0.1.5 or host 10.0.1.6 or host 10.0.1.7 or host 10.0.1.8 or host 10.0.1.9'; linktype: EN10MB; tool: tcpdump version 4.99.3 (libpcap version 1.10.3 (with TPACKET_V3)): tcpdump -d -r <empty EN10MB savefile, snaplen 262144>
(000) ldh      [12]
(001) jeq      #0x800           jt 3	jf 2
(002) ja       528
(003) ld       [26]
(004) jeq      #0xa000000       jt 5	jf 6
(005) ja       1317
(006) jeq      #0xa000001       jt 7	jf 8
(007) ja       1317
(008) jeq      #0xa000002       jt 9	jf 10
(009) ja       1317
(010) jeq      #0xa000003       jt 11	jf 12
(011) ja       1317
(012) jeq      #0xa000004       jt 13	jf 14
(013) ja       1317
(014) jeq      #0xa000005       jt 15	jf 16
(015) ja       1317
(016) jeq      #0xa000006       jt 17	jf 18
(017) ja       1317
(018) jeq      #0xa000007       jt 19	jf 20
(019) ja       1317
(020) jeq      #0xa000008       jt 21	jf 22
(021) ja       1317
(022) jeq      #0xa000009       jt 23	jf 24
(023) ja       1317
(024) jeq      #0xa00000a       jt 25	jf 26
(025) ja       1317
(026) jeq      #0xa00000b       jt 27	jf 28
(027) ja       1317
(028) jeq      #0xa00000c       jt 29	jf 30
(029) ja       1317
(030) jeq      #0xa00000d       jt 31	jf 32
(031) ja       1317
(032) jeq      #0xa00000e       jt 33	jf 34
(033) ja       1317
(034) jeq      #0xa00000f       jt 35	jf 36
(035) ja       1317
(036) jeq      #0xa000010       jt 37	jf 38
(037) ja       1317
(038) jeq      #0xa000011       jt 39	jf 40
(039) ja       1317
(040) jeq      #0xa000012       jt 41	jf 42
(041) ja       1317
(042) jeq      #0xa000013       jt 43	jf 44
(043) ja       1317
(044) jeq      #0xa000014       jt 45	jf 46
(045) ja       1317
(046) jeq      #0xa000015       jt 47	jf 48
(047) ja       1317
(048) jeq      #0xa000016       jt 49	jf 50
(049) ja       1317
(050) jeq      #0xa000017       jt 51	jf 52
(051) ja       1317
(052) jeq      #0xa000018       jt 53	jf 54
(053) ja       1317
(054) jeq      #0xa000019       jt 55	jf 56
(055) ja       1317
(056) jeq      #0xa00001a       jt 57	jf 58
(057) ja       1317
(058) jeq      #0xa00001b       jt 59	jf 60
(059) ja       1317
(060) jeq      #0xa00001c       jt 61	jf 62
(061) ja       1317
(062) jeq      #0xa00001d       jt 63	jf 64
(063) ja       1317
(064) jeq      #0xa00001e       jt 65	jf 66
(065) ja       1317
(066) jeq      #0xa00001f       jt 67	jf 68
(067) ja       1317
(068) jeq      #0xa000020       jt 69	jf 70
(069) ja       1317
(070) jeq      #0xa000021       jt 71	jf 72
(071) ja       1317
(072) jeq      #0xa000022       jt 73	jf 74
(073) ja       1317
(074) jeq      #0xa000023       jt 75	jf 76
(075) ja       1317
(076) jeq      #0xa000024       jt 77	jf 78
(077) ja       1317
(078) jeq      #0xa000025       jt 79	jf 80
(079) ja       1317
(080) jeq      #0xa000026       jt 81	jf 82
(081) ja       1317
(082) jeq      #0xa000027       jt 83	jf 84
(083) ja       1317
(084) jeq      #0xa000028       jt 85	jf 86
(085) ja       1317
(086) jeq      #0xa000029       jt 87	jf 88
(087) ja       1317
(088) jeq      #0xa00002a       jt 89	jf 90
(089) ja       1317
(090) jeq      #0xa00002b       jt 91	jf 92
(091) ja       1317
(092) jeq      #0xa00002c       jt 93	jf 94
(093) ja       1317
(094) jeq      #0xa00002d       jt 95	jf 96
(095) ja       1317
(096) jeq      #0xa00002e       jt 97	jf 98
(097) ja       1317
(098) jeq      #0xa00002f       jt 99	jf 100
(099) ja       1317
(100) jeq      #0xa000030       jt 101	jf 102
(101) ja       1317
(102) jeq      #0xa000031       jt 103	jf 104
(103) ja       1317
(104) jeq      #0xa000032       jt 105	jf 106
(105) ja       1317
(106) jeq      #0xa000033       jt 107	jf 108
(107) ja       1317
(108) jeq      #0xa000034       jt 109	jf 110
(109) ja       1317
(110) jeq      #0xa000035       jt 111	jf 112
(111) ja       1317
(112) jeq      #0xa000036       jt 113	jf 114
(113) ja       1317
(114) jeq      #0xa000037       jt 115	jf 116
(115) ja       1317
(116) jeq      #0xa000038       jt 117	jf 118
(117) ja       1317
(118) jeq      #0xa000039       jt 119	jf 120
(119) ja       1317
(120) jeq      #0xa00003a       jt 121	jf 122
(121) ja       1317
(122) jeq      #0xa00003b       jt 123	jf 124
(123) ja       1317
(124) jeq      #0xa00003c       jt 125	jf 126
(125) ja       1317
(126) jeq      #0xa00003d       jt 127	jf 128
(127) ja       1317
(128) jeq      #0xa00003e       jt 129	jf 130
(129) ja       1317
(130) jeq      #0xa00003f       jt 131	jf 132
(131) ja       1317
(132) jeq      #0xa000040       jt 133	jf 134
(133) ja       1317
(134) jeq      #0xa000041       jt 135	jf 136
(135) ja       1317
(136) jeq      #0xa000042       jt 137	jf 138
(137) ja       1317
(138) jeq      #0xa000043       jt 139	jf 140
(139) ja       1317
(140) jeq      #0xa000044       jt 141	jf 142
(141) ja       1317
(142) jeq      #0xa000045       jt 143	jf 144
(143) ja       1317
(144) jeq      #0xa000046       jt 145	jf 146
(145) ja       1317
(146) jeq      #0xa000047       jt 147	jf 148
(147) ja       1317
(148) jeq      #0xa000048       jt 149	jf 150
(149) ja       1317
(150) jeq      #0xa000049       jt 151	jf 152
(151) ja       1317
(152) jeq      #0xa00004a       jt 153	jf 154
(153) ja       1317
(154) jeq      #0xa00004b       jt 155	jf 156
(155) ja       1317
(156) jeq      #0xa00004c       jt 157	jf 158
(157) ja       1317
(158) jeq      #0xa00004d       jt 159	jf 160
(159) ja       1317
(160) jeq      #0xa00004e       jt 161	jf 162
(161) ja       1317
(162) jeq      #0xa00004f       jt 163	jf 164
(163) ja       1317
(164) jeq      #0xa000050       jt 165	jf 166
(165) ja       1317
(166) jeq      #0xa000051       jt 167	jf 168
(167) ja       1317
(168) jeq      #0xa000052       jt 169	jf 170
(169) ja       1317
(170) jeq      #0xa000053       jt 171	jf 172
(171) ja       1317
(172) jeq      #0xa000054       jt 173	jf 174
(173) ja       1317
(174) jeq      #0xa000055       jt 175	jf 176
(175) ja       1317
(176) jeq      #0xa000056       jt 177	jf 178
(177) ja       1317
(178) jeq      #0xa000057       jt 179	jf 180
(179) ja       1317
(180) jeq      #0xa000058       jt 181	jf 182
(181) ja       1317
(182) jeq      #0xa000059       jt 183	jf 184
(183) ja       1317
(184) jeq      #0xa00005a       jt 185	jf 186
(185) ja       1317
(186) jeq      #0xa00005b       jt 187	jf 188
(187) ja       1317
(188) jeq      #0xa00005c       jt 189	jf 190
(189) ja       1317
(190) jeq      #0xa00005d       jt 191	jf 192
(191) ja       1317
(192) jeq      #0xa00005e       jt 193	jf 194
(193) ja       1317
(194) jeq      #0xa00005f       jt 195	jf 196
(195) ja       1317
(196) jeq      #0xa000060       jt 197	jf 198
(197) ja       1317
(198) jeq      #0xa000061       jt 199	jf 200
(199) ja       1317
(200) jeq      #0xa000062       jt 201	jf 202
(201) ja       1317
(202) jeq      #0xa000063       jt 203	jf 204
(203) ja       1317
(204) jeq      #0xa000064       jt 205	jf 206
(205) ja       1317
(206) jeq      #0xa000065       jt 207	jf 208
(207) ja       1317
(208) jeq      #0xa000066       jt 209	jf 210
(209) ja       1317
(210) jeq      #0xa000067       jt 211	jf 212
(211) ja       1317
(212) jeq      #0xa000068       jt 213	jf 214
(213) ja       1317
(214) jeq      #0xa000069       jt 215	jf 216
(215) ja       1317
(216) jeq      #0xa00006a       jt 217	jf 218
(217) ja       1317
(218) jeq      #0xa00006b       jt 219	jf 220
(219) ja       1317
(220) jeq      #0xa00006c       jt 221	jf 222
(221) ja       1317
(222) jeq      #0xa00006d       jt 223	jf 224
(223) ja       1317
(224) jeq      #0xa00006e       jt 225	jf 226
(225) ja       1317
(226) jeq      #0xa00006f       jt 227	jf 228
(227) ja       1317
(228) jeq      #0xa000070       jt 229	jf 230
(229) ja       1317
(230) jeq      #0xa000071       jt 231	jf 232
(231) ja       1317
(232) jeq      #0xa000072       jt 233	jf 234
(233) ja       1317
(234) jeq      #0xa000073       jt 235	jf 236
(235) ja       1317
(236) jeq      #0xa000074       jt 237	jf 238
(237) ja       1317
(238) jeq      #0xa000075       jt 239	jf 240
(239) ja       1317
(240) jeq      #0xa000076       jt 241	jf 242
(241) ja       1317
(242) jeq      #0xa000077       jt 243	jf 244
(243) ja       1317
(244) jeq      #0xa000078       jt 245	jf 246
(245) ja       1317
(246) jeq      #0xa000079       jt 247	jf 248
(247) ja       1317
(248) jeq      #0xa00007a       jt 249	jf 250
(249) ja       1317
(250) jeq      #0xa00007b       jt 251	jf 252
(251) ja       1317
(252) jeq      #0xa00007c       jt 253	jf 254
(253) ja       1317
(254) jeq      #0xa00007d       jt 255	jf 256
(255) ja       1317
(256) jeq      #0xa00007e       jt 257	jf 258
(257) ja       1317
(258) jeq      #0xa00007f       jt 259	jf 260
(259) ja       1317
(260) jeq      #0xa000080       jt 261	jf 262
(261) ja       1317
(262) jeq      #0xa000081       jt 263	jf 264
(263) ja       1317
(264) jeq      #0xa000082       jt 265	jf 266
(265) ja       1317
(266) jeq      #0xa000083       jt 267	jf 268
(267) ja       1317
(268) jeq      #0xa000084       jt 269	jf 270
(269) ja       1317
(270) jeq      #0xa000085       jt 271	jf 272
(271) ja       1317
(272) jeq      #0xa000086       jt 273	jf 274
(273) ja       1317
(274) jeq      #0xa000087       jt 275	jf 276
(275) ja       1317
(276) jeq      #0xa000088       jt 277	jf 278
(277) ja       1317
(278) jeq      #0xa000089       jt 279	jf 280
(279) ja       1317
(280) jeq      #0xa00008a       jt 281	jf 282
(281) ja       1317
(282) jeq      #0xa00008b       jt 283	jf 284
(283) ja       1317
(284) jeq      #0xa00008c       jt 285	jf 286
(285) ja       1317
(286) jeq      #0xa00008d       jt 287	jf 288
(287) ja       1317
(288) jeq      #0xa00008e       jt 289	jf 290
(289) ja       1317
(290) jeq      #0xa00008f       jt 291	jf 292
(291) ja       1317
(292) jeq      #0xa000090       jt 293	jf 294
(293) ja       1317
(294) jeq      #0xa000091       jt 295	jf 296
(295) ja       1317
(296) jeq      #0xa000092       jt 297	jf 298
(297) ja       1317
(298) jeq      #0xa000093       jt 299	jf 300
(299) ja       1317
(300) jeq      #0xa000094       jt 301	jf 302
(301) ja       1317
(302) jeq      #0xa000095       jt 303	jf 304
(303) ja       1317
(304) jeq      #0xa000096       jt 305	jf 306
(305) ja       1317
(306) jeq      #0xa000097       jt 307	jf 308
(307) ja       1317
(308) jeq      #0xa000098       jt 309	jf 310
(309) ja       1317
(310) jeq      #0xa000099       jt 311	jf 312
(311) ja       1317
(312) jeq      #0xa00009a       jt 313	jf 314
(313) ja       1317
(314) jeq      #0xa00009b       jt 315	jf 316
(315) ja       1317
(316) jeq      #0xa00009c       jt 317	jf 318
(317) ja       1317
(318) jeq      #0xa00009d       jt 319	jf 320
(319) ja       1317
(320) jeq      #0xa00009e       jt 321	jf 322
(321) ja       1317
(322) jeq      #0xa00009f       jt 323	jf 324
(323) ja       1317
(324) jeq      #0xa0000a0       jt 325	jf 326
(325) ja       1317
(326) jeq      #0xa0000a1       jt 327	jf 328
(327) ja       1317
(328) jeq      #0xa0000a2       jt 329	jf 330
(329) ja       1317
(330) jeq      #0xa0000a3       jt 331	jf 332
(331) ja       1317
(332) jeq      #0xa0000a4       jt 333	jf 334
(333) ja       1317
(334) jeq      #0xa0000a5       jt 335	jf 336
(335) ja       1317
(336) jeq      #0xa0000a6       jt 337	jf 338
(337) ja       1317
(338) jeq      #0xa0000a7       jt 339	jf 340
(339) ja       1317
(340) jeq      #0xa0000a8       jt 341	jf 342
(341) ja       1317
(342) jeq      #0xa0000a9       jt 343	jf 344
(343) ja       1317
(344) jeq      #0xa0000aa       jt 345	jf 346
(345) ja       1317
(346) jeq      #0xa0000ab       jt 347	jf 348
(347) ja       1317
(348) jeq      #0xa0000ac       jt 349	jf 350
(349) ja       1317
(350) jeq      #0xa0000ad       jt 351	jf 352
(351) ja       1317
(352) jeq      #0xa0000ae       jt 353	jf 354
(353) ja       1317
(354) jeq      #0xa0000af       jt 355	jf 356
(355) ja       1317
(356) jeq      #0xa0000b0       jt 357	jf 358
(357) ja       1317
(358) jeq      #0xa0000b1       jt 359	jf 360
(359) ja       1317
(360) jeq      #0xa0000b2       jt 361	jf 362
(361) ja       1317
(362) jeq      #0xa0000b3       jt 363	jf 364
(363) ja       1317
(364) jeq      #0xa0000b4       jt 365	jf 366
(365) ja       1317
(366) jeq      #0xa0000b5       jt 367	jf 368
(367) ja       1317
(368) jeq      #0xa0000b6       jt 369	jf 370
(369) ja       1317
(370) jeq      #0xa0000b7       jt 371	jf 372
(371) ja       1317
(372) jeq      #0xa0000b8       jt 373	jf 374
(373) ja       1317
(374) jeq      #0xa0000b9       jt 375	jf 376
(375) ja       1317
(376) jeq      #0xa0000ba       jt 377	jf 378
(377) ja       1317
(378) jeq      #0xa0000bb       jt 379	jf 380
(379) ja       1317
(380) jeq      #0xa0000bc       jt 381	jf 382
(381) ja       1317
(382) jeq      #0xa0000bd       jt 383	jf 384
(383) ja       1317
(384) jeq      #0xa0000be       jt 385	jf 386
(385) ja       1317
(386) jeq      #0xa0000bf       jt 387	jf 388
(387) ja       1317
(388) jeq      #0xa0000c0       jt 389	jf 390
(389) ja       1317
(390) jeq      #0xa0000c1       jt 391	jf 392
(391) ja       1317
(392) jeq      #0xa0000c2       jt 393	jf 394
(393) ja       1317
(394) jeq      #0xa0000c3       jt 395	jf 396
(395) ja       1317
(396) jeq      #0xa0000c4       jt 397	jf 398
(397) ja       1317
(398) jeq      #0xa0000c5       jt 399	jf 400
(399) ja       1317
(400) jeq      #0xa0000c6       jt 401	jf 402
(401) ja       1317
(402) jeq      #0xa0000c7       jt 403	jf 404
(403) ja       1317
(404) jeq      #0xa0000c8       jt 405	jf 406
(405) ja       1317
(406) jeq      #0xa0000c9       jt 407	jf 408
(407) ja       1317
(408) jeq      #0xa0000ca       jt 409	jf 410
(409) ja       1317
(410) jeq      #0xa0000cb       jt 411	jf 412
(411) ja       1317
(412) jeq      #0xa0000cc       jt 413	jf 414
(413) ja       1317
(414) jeq      #0xa0000cd       jt 415	jf 416
(415) ja       1317
(416) jeq      #0xa0000ce       jt 417	jf 418
(417) ja       1317
(418) jeq      #0xa0000cf       jt 419	jf 420
(419) ja       1317
(420) jeq      #0xa0000d0       jt 421	jf 422
(421) ja       1317
(422) jeq      #0xa0000d1       jt 423	jf 424
(423) ja       1317
(424) jeq      #0xa0000d2       jt 425	jf 426
(425) ja       1317
(426) jeq      #0xa0000d3       jt 427	jf 428
(427) ja       1317
(428) jeq      #0xa0000d4       jt 429	jf 430
(429) ja       1317
(430) jeq      #0xa0000d5       jt 431	jf 432
(431) ja       1317
(432) jeq      #0xa0000d6       jt 433	jf 434
(433) ja       1317
(434) jeq      #0xa0000d7       jt 435	jf 436
(435) ja       1317
(436) jeq      #0xa0000d8       jt 437	jf 438
(437) ja       1317
(438) jeq      #0xa0000d9       jt 439	jf 440
(439) ja       1317
(440) jeq      #0xa0000da       jt 441	jf 442
(441) ja       1317
(442) jeq      #0xa0000db       jt 443	jf 444
(443) ja       1317
(444) jeq      #0xa0000dc       jt 445	jf 446
(445) ja       1317
(446) jeq      #0xa0000dd       jt 447	jf 448
(447) ja       1317
(448) jeq      #0xa0000de       jt 449	jf 450
(449) ja       1317
(450) jeq      #0xa0000df       jt 451	jf 452
(451) ja       1317
(452) jeq      #0xa0000e0       jt 453	jf 454
(453) ja       1317
(454) jeq      #0xa0000e1       jt 455	jf 456
(455) ja       1317
(456) jeq      #0xa0000e2       jt 457	jf 458
(457) ja       1317
(458) jeq      #0xa0000e3       jt 459	jf 460
(459) ja       1317
(460) jeq      #0xa0000e4       jt 461	jf 462
(461) ja       1317
(462) jeq      #0xa0000e5       jt 463	jf 464
(463) ja       1317
(464) jeq      #0xa0000e6       jt 465	jf 466
(465) ja       1317
(466) jeq      #0xa0000e7       jt 467	jf 468
(467) ja       1317
(468) jeq      #0xa0000e8       jt 469	jf 470
(469) ja       1317
(470) jeq      #0xa0000e9       jt 471	jf 472
(471) ja       1317
(472) jeq      #0xa0000ea       jt 473	jf 474
(473) ja       1317
(474) jeq      #0xa0000eb       jt 475	jf 476
(475) ja       1317
(476) jeq      #0xa0000ec       jt 477	jf 478
(477) ja       1317
(478) jeq      #0xa0000ed       jt 479	jf 480
(479) ja       1317
(480) jeq      #0xa0000ee       jt 481	jf 482
(481) ja       1317
(482) jeq      #0xa0000ef       jt 483	jf 484
(483) ja       1317
(484) jeq      #0xa0000f0       jt 485	jf 486
(485) ja       1317
(486) jeq      #0xa0000f1       jt 487	jf 488
(487) ja       1317
(488) jeq      #0xa0000f2       jt 489	jf 490
(489) ja       1317
(490) jeq      #0xa0000f3       jt 491	jf 492
(491) ja       1317
(492) jeq      #0xa0000f4       jt 493	jf 494
(493) ja       1317
(494) jeq      #0xa0000f5       jt 495	jf 496
(495) ja       1317
(496) jeq      #0xa0000f6       jt 497	jf 498
(497) ja       1317
(498) jeq      #0xa0000f7       jt 499	jf 500
(499) ja       1317
(500) jeq      #0xa0000f8       jt 501	jf 502
(501) ja       1317
(502) jeq      #0xa0000f9       jt 503	jf 504
(503) ja       1317
(504) jeq      #0xa000100       jt 505	jf 506
(505) ja       1317
(506) jeq      #0xa000101       jt 507	jf 508
(507) ja       1317
(508) jeq      #0xa000102       jt 509	jf 510
(509) ja       1317
(510) jeq      #0xa000103       jt 511	jf 512
(511) ja       1317
(512) jeq      #0xa000104       jt 513	jf 514
(513) ja       1317
(514) jeq      #0xa000105       jt 515	jf 516
(515) ja       1317
(516) jeq      #0xa000106       jt 517	jf 518
(517) ja       1317
(518) jeq      #0xa000107       jt 519	jf 520
(519) ja       1317
(520) jeq      #0xa000108       jt 521	jf 522
(521) ja       1317
(522) jeq      #0xa000109       jt 523	jf 524
(523) ja       1317
(524) ld       [30]
(525) jeq      #0xa000000       jt 526	jf 527
(526) ja       1317
(527) ja       1055
(528) jeq      #0x806           jt 531	jf 529
(529) jeq      #0x8035          jt 531	jf 530
(530) ja       1318
(531) ld       [28]
(532) jeq      #0xa000000       jt 533	jf 534
(533) ja       1317
(534) jeq      #0xa000001       jt 535	jf 536
(535) ja       1317
(536) jeq      #0xa000002       jt 537	jf 538
(537) ja       1317
(538) jeq      #0xa000003       jt 539	jf 540
(539) ja       1317
(540) jeq      #0xa000004       jt 541	jf 542
(541) ja       1317
(542) jeq      #0xa000005       jt 543	jf 544
(543) ja       1317
(544) jeq      #0xa000006       jt 545	jf 546
(545) ja       1317
(546) jeq      #0xa000007       jt 547	jf 548
(547) ja       1317
(548) jeq      #0xa000008       jt 549	jf 550
(549) ja       1317
(550) jeq      #0xa000009       jt 551	jf 552
(551) ja       1317
(552) jeq      #0xa00000a       jt 553	jf 554
(553) ja       1317
(554) jeq      #0xa00000b       jt 555	jf 556
(555) ja       1317
(556) jeq      #0xa00000c       jt 557	jf 558
(557) ja       1317
(558) jeq      #0xa00000d       jt 559	jf 560
(559) ja       1317
(560) jeq      #0xa00000e       jt 561	jf 562
(561) ja       1317
(562) jeq      #0xa00000f       jt 563	jf 564
(563) ja       1317
(564) jeq      #0xa000010       jt 565	jf 566
(565) ja       1317
(566) jeq      #0xa000011       jt 567	jf 568
(567) ja       1317
(568) jeq      #0xa000012       jt 569	jf 570
(569) ja       1317
(570) jeq      #0xa000013       jt 571	jf 572
(571) ja       1317
(572) jeq      #0xa000014       jt 573	jf 574
(573) ja       1317
(574) jeq      #0xa000015       jt 575	jf 576
(575) ja       1317
(576) jeq      #0xa000016       jt 577	jf 578
(577) ja       1317
(578) jeq      #0xa000017       jt 579	jf 580
(579) ja       1317
(580) jeq      #0xa000018       jt 581	jf 582
(581) ja       1317
(582) jeq      #0xa000019       jt 583	jf 584
(583) ja       1317
(584) jeq      #0xa00001a       jt 585	jf 586
(585) ja       1317
(586) jeq      #0xa00001b       jt 587	jf 588
(587) ja       1317
(588) jeq      #0xa00001c       jt 589	jf 590
(589) ja       1317
(590) jeq      #0xa00001d       jt 591	jf 592
(591) ja       1317
(592) jeq      #0xa00001e       jt 593	jf 594
(593) ja       1317
(594) jeq      #0xa00001f       jt 595	jf 596
(595) ja       1317
(596) jeq      #0xa000020       jt 597	jf 598
(597) ja       1317
(598) jeq      #0xa000021       jt 599	jf 600
(599) ja       1317
(600) jeq      #0xa000022       jt 601	jf 602
(601) ja       1317
(602) jeq      #0xa000023       jt 603	jf 604
(603) ja       1317
(604) jeq      #0xa000024       jt 605	jf 606
(605) ja       1317
(606) jeq      #0xa000025       jt 607	jf 608
(607) ja       1317
(608) jeq      #0xa000026       jt 609	jf 610
(609) ja       1317
(610) jeq      #0xa000027       jt 611	jf 612
(611) ja       1317
(612) jeq      #0xa000028       jt 613	jf 614
(613) ja       1317
(614) jeq      #0xa000029       jt 615	jf 616
(615) ja       1317
(616) jeq      #0xa00002a       jt 617	jf 618
(617) ja       1317
(618) jeq      #0xa00002b       jt 619	jf 620
(619) ja       1317
(620) jeq      #0xa00002c       jt 621	jf 622
(621) ja       1317
(622) jeq      #0xa00002d       jt 623	jf 624
(623) ja       1317
(624) jeq      #0xa00002e       jt 625	jf 626
(625) ja       1317
(626) jeq      #0xa00002f       jt 627	jf 628
(627) ja       1317
(628) jeq      #0xa000030       jt 629	jf 630
(629) ja       1317
(630) jeq      #0xa000031       jt 631	jf 632
(631) ja       1317
(632) jeq      #0xa000032       jt 633	jf 634
(633) ja       1317
(634) jeq      #0xa000033       jt 635	jf 636
(635) ja       1317
(636) jeq      #0xa000034       jt 637	jf 638
(637) ja       1317
(638) jeq      #0xa000035       jt 639	jf 640
(639) ja       1317
(640) jeq      #0xa000036       jt 641	jf 642
(641) ja       1317
(642) jeq      #0xa000037       jt 643	jf 644
(643) ja       1317
(644) jeq      #0xa000038       jt 645	jf 646
(645) ja       1317
(646) jeq      #0xa000039       jt 647	jf 648
(647) ja       1317
(648) jeq      #0xa00003a       jt 649	jf 650
(649) ja       1317
(650) jeq      #0xa00003b       jt 651	jf 652
(651) ja       1317
(652) jeq      #0xa00003c       jt 653	jf 654
(653) ja       1317
(654) jeq      #0xa00003d       jt 655	jf 656
(655) ja       1317
(656) jeq      #0xa00003e       jt 657	jf 658
(657) ja       1317
(658) jeq      #0xa00003f       jt 659	jf 660
(659) ja       1317
(660) jeq      #0xa000040       jt 661	jf 662
(661) ja       1317
(662) jeq      #0xa000041       jt 663	jf 664
(663) ja       1317
(664) jeq      #0xa000042       jt 665	jf 666
(665) ja       1317
(666) jeq      #0xa000043       jt 667	jf 668
(667) ja       1317
(668) jeq      #0xa000044       jt 669	jf 670
(669) ja       1317
(670) jeq      #0xa000045       jt 671	jf 672
(671) ja       1317
(672) jeq      #0xa000046       jt 673	jf 674
(673) ja       1317
(674) jeq      #0xa000047       jt 675	jf 676
(675) ja       1317
(676) jeq      #0xa000048       jt 677	jf 678
(677) ja       1317
(678) jeq      #0xa000049       jt 679	jf 680
(679) ja       1317
(680) jeq      #0xa00004a       jt 681	jf 682
(681) ja       1317
(682) jeq      #0xa00004b       jt 683	jf 684
(683) ja       1317
(684) jeq      #0xa00004c       jt 685	jf 686
(685) ja       1317
(686) jeq      #0xa00004d       jt 687	jf 688
(687) ja       1317
(688) jeq      #0xa00004e       jt 689	jf 690
(689) ja       1317
(690) jeq      #0xa00004f       jt 691	jf 692
(691) ja       1317
(692) jeq      #0xa000050       jt 693	jf 694
(693) ja       1317
(694) jeq      #0xa000051       jt 695	jf 696
(695) ja       1317
(696) jeq      #0xa000052       jt 697	jf 698
(697) ja       1317
(698) jeq      #0xa000053       jt 699	jf 700
(699) ja       1317
(700) jeq      #0xa000054       jt 701	jf 702
(701) ja       1317
(702) jeq      #0xa000055       jt 703	jf 704
(703) ja       1317
(704) jeq      #0xa000056       jt 705	jf 706
(705) ja       1317
(706) jeq      #0xa000057       jt 707	jf 708
(707) ja       1317
(708) jeq      #0xa000058       jt 709	jf 710
(709) ja       1317
(710) jeq      #0xa000059       jt 711	jf 712
(711) ja       1317
(712) jeq      #0xa00005a       jt 713	jf 714
(713) ja       1317
(714) jeq      #0xa00005b       jt 715	jf 716
(715) ja       1317
(716) jeq      #0xa00005c       jt 717	jf 718
(717) ja       1317
(718) jeq      #0xa00005d       jt 719	jf 720
(719) ja       1317
(720) jeq      #0xa00005e       jt 721	jf 722
(721) ja       1317
(722) jeq      #0xa00005f       jt 723	jf 724
(723) ja       1317
(724) jeq      #0xa000060       jt 725	jf 726
(725) ja       1317
(726) jeq      #0xa000061       jt 727	jf 728
(727) ja       1317
(728) jeq      #0xa000062       jt 729	jf 730
(729) ja       1317
(730) jeq      #0xa000063       jt 731	jf 732
(731) ja       1317
(732) jeq      #0xa000064       jt 733	jf 734
(733) ja       1317
(734) jeq      #0xa000065       jt 735	jf 736
(735) ja       1317
(736) jeq      #0xa000066       jt 737	jf 738
(737) ja       1317
(738) jeq      #0xa000067       jt 739	jf 740
(739) ja       1317
(740) jeq      #0xa000068       jt 741	jf 742
(741) ja       1317
(742) jeq      #0xa000069       jt 743	jf 744
(743) ja       1317
(744) jeq      #0xa00006a       jt 745	jf 746
(745) ja       1317
(746) jeq      #0xa00006b       jt 747	jf 748
(747) ja       1317
(748) jeq      #0xa00006c       jt 749	jf 750
(749) ja       1317
(750) jeq      #0xa00006d       jt 751	jf 752
(751) ja       1317
(752) jeq      #0xa00006e       jt 753	jf 754
(753) ja       1317
(754) jeq      #0xa00006f       jt 755	jf 756
(755) ja       1317
(756) jeq      #0xa000070       jt 757	jf 758
(757) ja       1317
(758) jeq      #0xa000071       jt 759	jf 760
(759) ja       1317
(760) jeq      #0xa000072       jt 761	jf 762
(761) ja       1317
(762) jeq      #0xa000073       jt 763	jf 764
(763) ja       1317
(764) jeq      #0xa000074       jt 765	jf 766
(765) ja       1317
(766) jeq      #0xa000075       jt 767	jf 768
(767) ja       1317
(768) jeq      #0xa000076       jt 769	jf 770
(769) ja       1317
(770) jeq      #0xa000077       jt 771	jf 772
(771) ja       1317
(772) jeq      #0xa000078       jt 773	jf 774
(773) ja       1317
(774) jeq      #0xa000079       jt 775	jf 776
(775) ja       1317
(776) jeq      #0xa00007a       jt 777	jf 778
(777) ja       1317
(778) jeq      #0xa00007b       jt 779	jf 780
(779) ja       1317
(780) jeq      #0xa00007c       jt 781	jf 782
(781) ja       1317
(782) jeq      #0xa00007d       jt 783	jf 784
(783) ja       1317
(784) jeq      #0xa00007e       jt 785	jf 786
(785) ja       1317
(786) jeq      #0xa00007f       jt 787	jf 788
(787) ja       1317
(788) jeq      #0xa000080       jt 789	jf 790
(789) ja       1317
(790) jeq      #0xa000081       jt 791	jf 792
(791) ja       1317
(792) jeq      #0xa000082       jt 793	jf 794
(793) ja       1317
(794) jeq      #0xa000083       jt 795	jf 796
(795) ja       1317
(796) jeq      #0xa000084       jt 797	jf 798
(797) ja       1317
(798) jeq      #0xa000085       jt 799	jf 800
(799) ja       1317
(800) jeq      #0xa000086       jt 801	jf 802
(801) ja       1317
(802) jeq      #0xa000087       jt 803	jf 804
(803) ja       1317
(804) jeq      #0xa000088       jt 805	jf 806
(805) ja       1317
(806) jeq      #0xa000089       jt 807	jf 808
(807) ja       1317
(808) jeq      #0xa00008a       jt 809	jf 810
(809) ja       1317
(810) jeq      #0xa00008b       jt 811	jf 812
(811) ja       1317
(812) jeq      #0xa00008c       jt 813	jf 814
(813) ja       1317
(814) jeq      #0xa00008d       jt 815	jf 816
(815) ja       1317
(816) jeq      #0xa00008e       jt 817	jf 818
(817) ja       1317
(818) jeq      #0xa00008f       jt 819	jf 820
(819) ja       1317
(820) jeq      #0xa000090       jt 821	jf 822
(821) ja       1317
(822) jeq      #0xa000091       jt 823	jf 824
(823) ja       1317
(824) jeq      #0xa000092       jt 825	jf 826
(825) ja       1317
(826) jeq      #0xa000093       jt 827	jf 828
(827) ja       1317
(828) jeq      #0xa000094       jt 829	jf 830
(829) ja       1317
(830) jeq      #0xa000095       jt 831	jf 832
(831) ja       1317
(832) jeq      #0xa000096       jt 833	jf 834
(833) ja       1317
(834) jeq      #0xa000097       jt 835	jf 836
(835) ja       1317
(836) jeq      #0xa000098       jt 837	jf 838
(837) ja       1317
(838) jeq      #0xa000099       jt 839	jf 840
(839) ja       1317
(840) jeq      #0xa00009a       jt 841	jf 842
(841) ja       1317
(842) jeq      #0xa00009b       jt 843	jf 844
(843) ja       1317
(844) jeq      #0xa00009c       jt 845	jf 846
(845) ja       1317
(846) jeq      #0xa00009d       jt 847	jf 848
(847) ja       1317
(848) jeq      #0xa00009e       jt 849	jf 850
(849) ja       1317
(850) jeq      #0xa00009f       jt 851	jf 852
(851) ja       1317
(852) jeq      #0xa0000a0       jt 853	jf 854
(853) ja       1317
(854) jeq      #0xa0000a1       jt 855	jf 856
(855) ja       1317
(856) jeq      #0xa0000a2       jt 857	jf 858
(857) ja       1317
(858) jeq      #0xa0000a3       jt 859	jf 860
(859) ja       1317
(860) jeq      #0xa0000a4       jt 861	jf 862
(861) ja       1317
(862) jeq      #0xa0000a5       jt 863	jf 864
(863) ja       1317
(864) jeq      #0xa0000a6       jt 865	jf 866
(865) ja       1317
(866) jeq      #0xa0000a7       jt 867	jf 868
(867) ja       1317
(868) jeq      #0xa0000a8       jt 869	jf 870
(869) ja       1317
(870) jeq      #0xa0000a9       jt 871	jf 872
(871) ja       1317
(872) jeq      #0xa0000aa       jt 873	jf 874
(873) ja       1317
(874) jeq      #0xa0000ab       jt 875	jf 876
(875) ja       1317
(876) jeq      #0xa0000ac       jt 877	jf 878
(877) ja       1317
(878) jeq      #0xa0000ad       jt 879	jf 880
(879) ja       1317
(880) jeq      #0xa0000ae       jt 881	jf 882
(881) ja       1317
(882) jeq      #0xa0000af       jt 883	jf 884
(883) ja       1317
(884) jeq      #0xa0000b0       jt 885	jf 886
(885) ja       1317
(886) jeq      #0xa0000b1       jt 887	jf 888
(887) ja       1317
(888) jeq      #0xa0000b2       jt 889	jf 890
(889) ja       1317
(890) jeq      #0xa0000b3       jt 891	jf 892
(891) ja       1317
(892) jeq      #0xa0000b4       jt 893	jf 894
(893) ja       1317
(894) jeq      #0xa0000b5       jt 895	jf 896
(895) ja       1317
(896) jeq      #0xa0000b6       jt 897	jf 898
(897) ja       1317
(898) jeq      #0xa0000b7       jt 899	jf 900
(899) ja       1317
(900) jeq      #0xa0000b8       jt 901	jf 902
(901) ja       1317
(902) jeq      #0xa0000b9       jt 903	jf 904
(903) ja       1317
(904) jeq      #0xa0000ba       jt 905	jf 906
(905) ja       1317
(906) jeq      #0xa0000bb       jt 907	jf 908
(907) ja       1317
(908) jeq      #0xa0000bc       jt 909	jf 910
(909) ja       1317
(910) jeq      #0xa0000bd       jt 911	jf 912
(911) ja       1317
(912) jeq      #0xa0000be       jt 913	jf 914
(913) ja       1317
(914) jeq      #0xa0000bf       jt 915	jf 916
(915) ja       1317
(916) jeq      #0xa0000c0       jt 917	jf 918
(917) ja       1317
(918) jeq      #0xa0000c1       jt 919	jf 920
(919) ja       1317
(920) jeq      #0xa0000c2       jt 921	jf 922
(921) ja       1317
(922) jeq      #0xa0000c3       jt 923	jf 924
(923) ja       1317
(924) jeq      #0xa0000c4       jt 925	jf 926
(925) ja       1317
(926) jeq      #0xa0000c5       jt 927	jf 928
(927) ja       1317
(928) jeq      #0xa0000c6       jt 929	jf 930
(929) ja       1317
(930) jeq      #0xa0000c7       jt 931	jf 932
(931) ja       1317
(932) jeq      #0xa0000c8       jt 933	jf 934
(933) ja       1317
(934) jeq      #0xa0000c9       jt 935	jf 936
(935) ja       1317
(936) jeq      #0xa0000ca       jt 937	jf 938
(937) ja       1317
(938) jeq      #0xa0000cb       jt 939	jf 940
(939) ja       1317
(940) jeq      #0xa0000cc       jt 941	jf 942
(941) ja       1317
(942) jeq      #0xa0000cd       jt 943	jf 944
(943) ja       1317
(944) jeq      #0xa0000ce       jt 945	jf 946
(945) ja       1317
(946) jeq      #0xa0000cf       jt 947	jf 948
(947) ja       1317
(948) jeq      #0xa0000d0       jt 949	jf 950
(949) ja       1317
(950) jeq      #0xa0000d1       jt 951	jf 952
(951) ja       1317
(952) jeq      #0xa0000d2       jt 953	jf 954
(953) ja       1317
(954) jeq      #0xa0000d3       jt 955	jf 956
(955) ja       1317
(956) jeq      #0xa0000d4       jt 957	jf 958
(957) ja       1317
(958) jeq      #0xa0000d5       jt 959	jf 960
(959) ja       1317
(960) jeq      #0xa0000d6       jt 961	jf 962
(961) ja       1317
(962) jeq      #0xa0000d7       jt 963	jf 964
(963) ja       1317
(964) jeq      #0xa0000d8       jt 965	jf 966
(965) ja       1317
(966) jeq      #0xa0000d9       jt 967	jf 968
(967) ja       1317
(968) jeq      #0xa0000da       jt 969	jf 970
(969) ja       1317
(970) jeq      #0xa0000db       jt 971	jf 972
(971) ja       1317
(972) jeq      #0xa0000dc       jt 973	jf 974
(973) ja       1317
(974) jeq      #0xa0000dd       jt 975	jf 976
(975) ja       1317
(976) jeq      #0xa0000de       jt 977	jf 978
(977) ja       1317
(978) jeq      #0xa0000df       jt 979	jf 980
(979) ja       1317
(980) jeq      #0xa0000e0       jt 981	jf 982
(981) ja       1317
(982) jeq      #0xa0000e1       jt 983	jf 984
(983) ja       1317
(984) jeq      #0xa0000e2       jt 985	jf 986
(985) ja       1317
(986) jeq      #0xa0000e3       jt 987	jf 988
(987) ja       1317
(988) jeq      #0xa0000e4       jt 989	jf 990
(989) ja       1317
(990) jeq      #0xa0000e5       jt 991	jf 992
(991) ja       1317
(992) jeq      #0xa0000e6       jt 993	jf 994
(993) ja       1317
(994) jeq      #0xa0000e7       jt 995	jf 996
(995) ja       1317
(996) jeq      #0xa0000e8       jt 997	jf 998
(997) ja       1317
(998) jeq      #0xa0000e9       jt 999	jf 1000
(999) ja       1317
(1000) jeq      #0xa0000ea       jt 1001	jf 1002
(1001) ja       1317
(1002) jeq      #0xa0000eb       jt 1003	jf 1004
(1003) ja       1317
(1004) jeq      #0xa0000ec       jt 1005	jf 1006
(1005) ja       1317
(1006) jeq      #0xa0000ed       jt 1007	jf 1008
(1007) ja       1317
(1008) jeq      #0xa0000ee       jt 1009	jf 1010
(1009) ja       1317
(1010) jeq      #0xa0000ef       jt 1011	jf 1012
(1011) ja       1317
(1012) jeq      #0xa0000f0       jt 1013	jf 1014
(1013) ja       1317
(1014) jeq      #0xa0000f1       jt 1015	jf 1016
(1015) ja       1317
(1016) jeq      #0xa0000f2       jt 1017	jf 1018
(1017) ja       1317
(1018) jeq      #0xa0000f3       jt 1019	jf 1020
(1019) ja       1317
(1020) jeq      #0xa0000f4       jt 1021	jf 1022
(1021) ja       1317
(1022) jeq      #0xa0000f5       jt 1023	jf 1024
(1023) ja       1317
(1024) jeq      #0xa0000f6       jt 1025	jf 1026
(1025) ja       1317
(1026) jeq      #0xa0000f7       jt 1027	jf 1028
(1027) ja       1317
(1028) jeq      #0xa0000f8       jt 1029	jf 1030
(1029) ja       1317
(1030) jeq      #0xa0000f9       jt 1031	jf 1032
(1031) ja       1317
(1032) jeq      #0xa000100       jt 1033	jf 1034
(1033) ja       1317
(1034) jeq      #0xa000101       jt 1035	jf 1036
(1035) ja       1317
(1036) jeq      #0xa000102       jt 1037	jf 1038
(1037) ja       1317
(1038) jeq      #0xa000103       jt 1039	jf 1040
(1039) ja       1317
(1040) jeq      #0xa000104       jt 1041	jf 1042
(1041) ja       1317
(1042) jeq      #0xa000105       jt 1043	jf 1044
(1043) ja       1317
(1044) jeq      #0xa000106       jt 1045	jf 1046
(1045) ja       1317
(1046) jeq      #0xa000107       jt 1047	jf 1048
(1047) ja       1317
(1048) jeq      #0xa000108       jt 1049	jf 1050
(1049) ja       1317
(1050) jeq      #0xa000109       jt 1051	jf 1052
(1051) ja       1317
(1052) ld       [38]
(1053) jeq      #0xa000000       jt 1054	jf 1055
(1054) ja       1317
(1055) jeq      #0xa000001       jt 1056	jf 1057
(1056) ja       1317
(1057) jeq      #0xa000002       jt 1058	jf 1059
(1058) ja       1317
(1059) jeq      #0xa000003       jt 1060	jf 1061
(1060) ja       1317
(1061) jeq      #0xa000004       jt 1317	jf 1062
(1062) jeq      #0xa000005       jt 1317	jf 1063
(1063) jeq      #0xa000006       jt 1317	jf 1064
(1064) jeq      #0xa000007       jt 1317	jf 1065
(1065) jeq      #0xa000008       jt 1317	jf 1066
(1066) jeq      #0xa000009       jt 1317	jf 1067
(1067) jeq      #0xa00000a       jt 1317	jf 1068
(1068) jeq      #0xa00000b       jt 1317	jf 1069
(1069) jeq      #0xa00000c       jt 1317	jf 1070
(1070) jeq      #0xa00000d       jt 1317	jf 1071
(1071) jeq      #0xa00000e       jt 1317	jf 1072
(1072) jeq      #0xa00000f       jt 1317	jf 1073
(1073) jeq      #0xa000010       jt 1317	jf 1074
(1074) jeq      #0xa000011       jt 1317	jf 1075
(1075) jeq      #0xa000012       jt 1317	jf 1076
(1076) jeq      #0xa000013       jt 1317	jf 1077
(1077) jeq      #0xa000014       jt 1317	jf 1078
(1078) jeq      #0xa000015       jt 1317	jf 1079
(1079) jeq      #0xa000016       jt 1317	jf 1080
(1080) jeq      #0xa000017       jt 1317	jf 1081
(1081) jeq      #0xa000018       jt 1317	jf 1082
(1082) jeq      #0xa000019       jt 1317	jf 1083
(1083) jeq      #0xa00001a       jt 1317	jf 1084
(1084) jeq      #0xa00001b       jt 1317	jf 1085
(1085) jeq      #0xa00001c       jt 1317	jf 1086
(1086) jeq      #0xa00001d       jt 1317	jf 1087
(1087) jeq      #0xa00001e       jt 1317	jf 1088
(1088) jeq      #0xa00001f       jt 1317	jf 1089
(1089) jeq      #0xa000020       jt 1317	jf 1090
(1090) jeq      #0xa000021       jt 1317	jf 1091
(1091) jeq      #0xa000022       jt 1317	jf 1092
(1092) jeq      #0xa000023       jt 1317	jf 1093
(1093) jeq      #0xa000024       jt 1317	jf 1094
(1094) jeq      #0xa000025       jt 1317	jf 1095
(1095) jeq      #0xa000026       jt 1317	jf 1096
(1096) jeq      #0xa000027       jt 1317	jf 1097
(1097) jeq      #0xa000028       jt 1317	jf 1098
(1098) jeq      #0xa000029       jt 1317	jf 1099
(1099) jeq      #0xa00002a       jt 1317	jf 1100
(1100) jeq      #0xa00002b       jt 1317	jf 1101
(1101) jeq      #0xa00002c       jt 1317	jf 1102
(1102) jeq      #0xa00002d       jt 1317	jf 1103
(1103) jeq      #0xa00002e       jt 1317	jf 1104
(1104) jeq      #0xa00002f       jt 1317	jf 1105
(1105) jeq      #0xa000030       jt 1317	jf 1106
(1106) jeq      #0xa000031       jt 1317	jf 1107
(1107) jeq      #0xa000032       jt 1317	jf 1108
(1108) jeq      #0xa000033       jt 1317	jf 1109
(1109) jeq      #0xa000034       jt 1317	jf 1110
(1110) jeq      #0xa000035       jt 1317	jf 1111
(1111) jeq      #0xa000036       jt 1317	jf 1112
(1112) jeq      #0xa000037       jt 1317	jf 1113
(1113) jeq      #0xa000038       jt 1317	jf 1114
(1114) jeq      #0xa000039       jt 1317	jf 1115
(1115) jeq      #0xa00003a       jt 1317	jf 1116
(1116) jeq      #0xa00003b       jt 1317	jf 1117
(1117) jeq      #0xa00003c       jt 1317	jf 1118
(1118) jeq      #0xa00003d       jt 1317	jf 1119
(1119) jeq      #0xa00003e       jt 1317	jf 1120
(1120) jeq      #0xa00003f       jt 1317	jf 1121
(1121) jeq      #0xa000040       jt 1317	jf 1122
(1122) jeq      #0xa000041       jt 1317	jf 1123
(1123) jeq      #0xa000042       jt 1317	jf 1124
(1124) jeq      #0xa000043       jt 1317	jf 1125
(1125) jeq      #0xa000044       jt 1317	jf 1126
(1126) jeq      #0xa000045       jt 1317	jf 1127
(1127) jeq      #0xa000046       jt 1317	jf 1128
(1128) jeq      #0xa000047       jt 1317	jf 1129
(1129) jeq      #0xa000048       jt 1317	jf 1130
(1130) jeq      #0xa000049       jt 1317	jf 1131
(1131) jeq      #0xa00004a       jt 1317	jf 1132
(1132) jeq      #0xa00004b       jt 1317	jf 1133
(1133) jeq      #0xa00004c       jt 1317	jf 1134
(1134) jeq      #0xa00004d       jt 1317	jf 1135
(1135) jeq      #0xa00004e       jt 1317	jf 1136
(1136) jeq      #0xa00004f       jt 1317	jf 1137
(1137) jeq      #0xa000050       jt 1317	jf 1138
(1138) jeq      #0xa000051       jt 1317	jf 1139
(1139) jeq      #0xa000052       jt 1317	jf 1140
(1140) jeq      #0xa000053       jt 1317	jf 1141
(1141) jeq      #0xa000054       jt 1317	jf 1142
(1142) jeq      #0xa000055       jt 1317	jf 1143
(1143) jeq      #0xa000056       jt 1317	jf 1144
(1144) jeq      #0xa000057       jt 1317	jf 1145
(1145) jeq      #0xa000058       jt 1317	jf 1146
(1146) jeq      #0xa000059       jt 1317	jf 1147
(1147) jeq      #0xa00005a       jt 1317	jf 1148
(1148) jeq      #0xa00005b       jt 1317	jf 1149
(1149) jeq      #0xa00005c       jt 1317	jf 1150
(1150) jeq      #0xa00005d       jt 1317	jf 1151
(1151) jeq      #0xa00005e       jt 1317	jf 1152
(1152) jeq      #0xa00005f       jt 1317	jf 1153
(1153) jeq      #0xa000060       jt 1317	jf 1154
(1154) jeq      #0xa000061       jt 1317	jf 1155
(1155) jeq      #0xa000062       jt 1317	jf 1156
(1156) jeq      #0xa000063       jt 1317	jf 1157
(1157) jeq      #0xa000064       jt 1317	jf 1158
(1158) jeq      #0xa000065       jt 1317	jf 1159
(1159) jeq      #0xa000066       jt 1317	jf 1160
(1160) jeq      #0xa000067       jt 1317	jf 1161
(1161) jeq      #0xa000068       jt 1317	jf 1162
(1162) jeq      #0xa000069       jt 1317	jf 1163
(1163) jeq      #0xa00006a       jt 1317	jf 1164
(1164) jeq      #0xa00006b       jt 1317	jf 1165
(1165) jeq      #0xa00006c       jt 1317	jf 1166
(1166) jeq      #0xa00006d       jt 1317	jf 1167
(1167) jeq      #0xa00006e       jt 1317	jf 1168
(1168) jeq      #0xa00006f       jt 1317	jf 1169
(1169) jeq      #0xa000070       jt 1317	jf 1170
(1170) jeq      #0xa000071       jt 1317	jf 1171
(1171) jeq      #0xa000072       jt 1317	jf 1172
(1172) jeq      #0xa000073       jt 1317	jf 1173
(1173) jeq      #0xa000074       jt 1317	jf 1174
(1174) jeq      #0xa000075       jt 1317	jf 1175
(1175) jeq      #0xa000076       jt 1317	jf 1176
(1176) jeq      #0xa000077       jt 1317	jf 1177
(1177) jeq      #0xa000078       jt 1317	jf 1178
(1178) jeq      #0xa000079       jt 1317	jf 1179
(1179) jeq      #0xa00007a       jt 1317	jf 1180
(1180) jeq      #0xa00007b       jt 1317	jf 1181
(1181) jeq      #0xa00007c       jt 1317	jf 1182
(1182) jeq      #0xa00007d       jt 1317	jf 1183
(1183) jeq      #0xa00007e       jt 1317	jf 1184
(1184) jeq      #0xa00007f       jt 1317	jf 1185
(1185) jeq      #0xa000080       jt 1317	jf 1186
(1186) jeq      #0xa000081       jt 1317	jf 1187
(1187) jeq      #0xa000082       jt 1317	jf 1188
(1188) jeq      #0xa000083       jt 1317	jf 1189
(1189) jeq      #0xa000084       jt 1317	jf 1190
(1190) jeq      #0xa000085       jt 1317	jf 1191
(1191) jeq      #0xa000086       jt 1317	jf 1192
(1192) jeq      #0xa000087       jt 1317	jf 1193
(1193) jeq      #0xa000088       jt 1317	jf 1194
(1194) jeq      #0xa000089       jt 1317	jf 1195
(1195) jeq      #0xa00008a       jt 1317	jf 1196
(1196) jeq      #0xa00008b       jt 1317	jf 1197
(1197) jeq      #0xa00008c       jt 1317	jf 1198
(1198) jeq      #0xa00008d       jt 1317	jf 1199
(1199) jeq      #0xa00008e       jt 1317	jf 1200
(1200) jeq      #0xa00008f       jt 1317	jf 1201
(1201) jeq      #0xa000090       jt 1317	jf 1202
(1202) jeq      #0xa000091       jt 1317	jf 1203
(1203) jeq      #0xa000092       jt 1317	jf 1204
(1204) jeq      #0xa000093       jt 1317	jf 1205
(1205) jeq      #0xa000094       jt 1317	jf 1206
(1206) jeq      #0xa000095       jt 1317	jf 1207
(1207) jeq      #0xa000096       jt 1317	jf 1208
(1208) jeq      #0xa000097       jt 1317	jf 1209
(1209) jeq      #0xa000098       jt 1317	jf 1210
(1210) jeq      #0xa000099       jt 1317	jf 1211
(1211) jeq      #0xa00009a       jt 1317	jf 1212
(1212) jeq      #0xa00009b       jt 1317	jf 1213
(1213) jeq      #0xa00009c       jt 1317	jf 1214
(1214) jeq      #0xa00009d       jt 1317	jf 1215
(1215) jeq      #0xa00009e       jt 1317	jf 1216
(1216) jeq      #0xa00009f       jt 1317	jf 1217
(1217) jeq      #0xa0000a0       jt 1317	jf 1218
(1218) jeq      #0xa0000a1       jt 1317	jf 1219
(1219) jeq      #0xa0000a2       jt 1317	jf 1220
(1220) jeq      #0xa0000a3       jt 1317	jf 1221
(1221) jeq      #0xa0000a4       jt 1317	jf 1222
(1222) jeq      #0xa0000a5       jt 1317	jf 1223
(1223) jeq      #0xa0000a6       jt 1317	jf 1224
(1224) jeq      #0xa0000a7       jt 1317	jf 1225
(1225) jeq      #0xa0000a8       jt 1317	jf 1226
(1226) jeq      #0xa0000a9       jt 1317	jf 1227
(1227) jeq      #0xa0000aa       jt 1317	jf 1228
(1228) jeq      #0xa0000ab       jt 1317	jf 1229
(1229) jeq      #0xa0000ac       jt 1317	jf 1230
(1230) jeq      #0xa0000ad       jt 1317	jf 1231
(1231) jeq      #0xa0000ae       jt 1317	jf 1232
(1232) jeq      #0xa0000af       jt 1317	jf 1233
(1233) jeq      #0xa0000b0       jt 1317	jf 1234
(1234) jeq      #0xa0000b1       jt 1317	jf 1235
(1235) jeq      #0xa0000b2       jt 1317	jf 1236
(1236) jeq      #0xa0000b3       jt 1317	jf 1237
(1237) jeq      #0xa0000b4       jt 1317	jf 1238
(1238) jeq      #0xa0000b5       jt 1317	jf 1239
(1239) jeq      #0xa0000b6       jt 1317	jf 1240
(1240) jeq      #0xa0000b7       jt 1317	jf 1241
(1241) jeq      #0xa0000b8       jt 1317	jf 1242
(1242) jeq      #0xa0000b9       jt 1317	jf 1243
(1243) jeq      #0xa0000ba       jt 1317	jf 1244
(1244) jeq      #0xa0000bb       jt 1317	jf 1245
(1245) jeq      #0xa0000bc       jt 1317	jf 1246
(1246) jeq      #0xa0000bd       jt 1317	jf 1247
(1247) jeq      #0xa0000be       jt 1317	jf 1248
(1248) jeq      #0xa0000bf       jt 1317	jf 1249
(1249) jeq      #0xa0000c0       jt 1317	jf 1250
(1250) jeq      #0xa0000c1       jt 1317	jf 1251
(1251) jeq      #0xa0000c2       jt 1317	jf 1252
(1252) jeq      #0xa0000c3       jt 1317	jf 1253
(1253) jeq      #0xa0000c4       jt 1317	jf 1254
(1254) jeq      #0xa0000c5       jt 1317	jf 1255
(1255) jeq      #0xa0000c6       jt 1317	jf 1256
(1256) jeq      #0xa0000c7       jt 1317	jf 1257
(1257) jeq      #0xa0000c8       jt 1317	jf 1258
(1258) jeq      #0xa0000c9       jt 1317	jf 1259
(1259) jeq      #0xa0000ca       jt 1317	jf 1260
(1260) jeq      #0xa0000cb       jt 1317	jf 1261
(1261) jeq      #0xa0000cc       jt 1317	jf 1262
(1262) jeq      #0xa0000cd       jt 1317	jf 1263
(1263) jeq      #0xa0000ce       jt 1317	jf 1264
(1264) jeq      #0xa0000cf       jt 1317	jf 1265
(1265) jeq      #0xa0000d0       jt 1317	jf 1266
(1266) jeq      #0xa0000d1       jt 1317	jf 1267
(1267) jeq      #0xa0000d2       jt 1317	jf 1268
(1268) jeq      #0xa0000d3       jt 1317	jf 1269
(1269) jeq      #0xa0000d4       jt 1317	jf 1270
(1270) jeq      #0xa0000d5       jt 1317	jf 1271
(1271) jeq      #0xa0000d6       jt 1317	jf 1272
(1272) jeq      #0xa0000d7       jt 1317	jf 1273
(1273) jeq      #0xa0000d8       jt 1317	jf 1274
(1274) jeq      #0xa0000d9       jt 1317	jf 1275
(1275) jeq      #0xa0000da       jt 1317	jf 1276
(1276) jeq      #0xa0000db       jt 1317	jf 1277
(1277) jeq      #0xa0000dc       jt 1317	jf 1278
(1278) jeq      #0xa0000dd       jt 1317	jf 1279
(1279) jeq      #0xa0000de       jt 1317	jf 1280
(1280) jeq      #0xa0000df       jt 1317	jf 1281
(1281) jeq      #0xa0000e0       jt 1317	jf 1282
(1282) jeq      #0xa0000e1       jt 1317	jf 1283
(1283) jeq      #0xa0000e2       jt 1317	jf 1284
(1284) jeq      #0xa0000e3       jt 1317	jf 1285
(1285) jeq      #0xa0000e4       jt 1317	jf 1286
(1286) jeq      #0xa0000e5       jt 1317	jf 1287
(1287) jeq      #0xa0000e6       jt 1317	jf 1288
(1288) jeq      #0xa0000e7       jt 1317	jf 1289
(1289) jeq      #0xa0000e8       jt 1317	jf 1290
(1290) jeq      #0xa0000e9       jt 1317	jf 1291
(1291) jeq      #0xa0000ea       jt 1317	jf 1292
(1292) jeq      #0xa0000eb       jt 1317	jf 1293
(1293) jeq      #0xa0000ec       jt 1317	jf 1294
(1294) jeq      #0xa0000ed       jt 1317	jf 1295
(1295) jeq      #0xa0000ee       jt 1317	jf 1296
(1296) jeq      #0xa0000ef       jt 1317	jf 1297
(1297) jeq      #0xa0000f0       jt 1317	jf 1298
(1298) jeq      #0xa0000f1       jt 1317	jf 1299
(1299) jeq      #0xa0000f2       jt 1317	jf 1300
(1300) jeq      #0xa0000f3       jt 1317	jf 1301
(1301) jeq      #0xa0000f4       jt 1317	jf 1302
(1302) jeq      #0xa0000f5       jt 1317	jf 1303
(1303) jeq      #0xa0000f6       jt 1317	jf 1304
(1304) jeq      #0xa0000f7       jt 1317	jf 1305
(1305) jeq      #0xa0000f8       jt 1317	jf 1306
(1306) jeq      #0xa0000f9       jt 1317	jf 1307
(1307) jeq      #0xa000100       jt 1317	jf 1308
(1308) jeq      #0xa000101       jt 1317	jf 1309
(1309) jeq      #0xa000102       jt 1317	jf 1310
(1310) jeq      #0xa000103       jt 1317	jf 1311
(1311) jeq      #0xa000104       jt 1317	jf 1312
(1312) jeq      #0xa000105       jt 1317	jf 1313
(1313) jeq      #0xa000106       jt 1317	jf 1314
(1314) jeq      #0xa000107       jt 1317	jf 1315
(1315) jeq      #0xa000108       jt 1317	jf 1316
(1316) jeq      #0xa000109       jt 1317	jf 1318
(1317) ret      #262144
(1318) ret      #0
