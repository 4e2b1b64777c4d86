# bpfc dump golden; program: every-opcode (synthetic, tests/make_golden.py); linktype: none; tool: libpcap version 1.10.3 (with TPACKET_V3) bpf_dump(option=1) via ctypes
(000) ld       #0x0
(001) ldx      #0x0
(002) st       M[0]
(003) stx      M[0]
(004) add      #0
(005) ja       6
(006) ret      #0
(007) tax      
(008) add      x
(009) sub      #0
(010) jeq      #0x0             jt 81	jf 142
(011) ret      
(012) sub      x
(013) jeq      x                jt 105	jf 184
(014) ld       [0]
(015) mul      #0
(016) jgt      #0x0             jt 129	jf 226
(017) ldh      [0]
(018) mul      x
(019) jgt      x                jt 153	jf 268
(020) ldb      [0]
(021) div      #0
(022) jge      #0x0             jt 177	jf 54
(023) div      x
(024) jge      x                jt 193	jf 82
(025) ld       [x + 0]
(026) or       #0x0
(027) jset     #0x0             jt 217	jf 124
(028) ldh      [x + 0]
(029) or       x
(030) jset     x                jt 241	jf 166
(031) ldb      [x + 0]
(032) and      #0x0
(033) and      x
(034) ld       M[0]
(035) ldx      M[0]
(036) lsh      #0
(037) lsh      x
(038) rsh      #0
(039) rsh      x
(040) ld       #pktlen
(041) unimp    0x81
(042) neg      
(043) txa      
(044) mod      #0
(045) mod      x
(046) xor      #0x0
(047) xor      x
(048) ldxb     4*([0]&0xf)
(049) ld       #0x1
(050) ldx      #0x1
(051) st       M[1]
(052) stx      M[1]
(053) add      #1
(054) ja       56
(055) ret      #1
(056) tax      
(057) add      x
(058) sub      #1
(059) jeq      #0x1             jt 217	jf 60
(060) ret      
(061) sub      x
(062) jeq      x                jt 241	jf 102
(063) ld       [1]
(064) mul      #1
(065) jgt      #0x1             jt 265	jf 144
(066) ldh      [1]
(067) mul      x
(068) jgt      x                jt 289	jf 186
(069) ldb      [1]
(070) div      #1
(071) jge      #0x1             jt 313	jf 228
(072) div      x
(073) jge      x                jt 329	jf 256
(074) ld       [x + 1]
(075) or       #0x1
(076) jset     #0x1             jt 97	jf 298
(077) ldh      [x + 1]
(078) or       x
(079) jset     x                jt 121	jf 84
(080) ldb      [x + 1]
(081) and      #0x1
(082) and      x
(083) ld       M[1]
(084) ldx      M[1]
(085) lsh      #1
(086) lsh      x
(087) rsh      #1
(088) rsh      x
(089) ld       #pktlen
(090) unimp    0x81
(091) neg      
(092) txa      
(093) mod      #1
(094) mod      x
(095) xor      #0x1
(096) xor      x
(097) ldxb     4*([1]&0xf)
(098) ld       #0xc
(099) ldx      #0xc
(100) st       M[12]
(101) stx      M[12]
(102) add      #12
(103) ja       116
(104) ret      #12
(105) tax      
(106) add      x
(107) sub      #12
(108) jeq      #0xc             jt 353	jf 234
(109) ret      
(110) sub      x
(111) jeq      x                jt 121	jf 276
(112) ld       [12]
(113) mul      #12
(114) jgt      #0xc             jt 145	jf 318
(115) ldh      [12]
(116) mul      x
(117) jgt      x                jt 169	jf 360
(118) ldb      [12]
(119) div      #12
(120) jge      #0xc             jt 193	jf 146
(121) div      x
(122) jge      x                jt 209	jf 174
(123) ld       [x + 12]
(124) or       #0xc
(125) jset     #0xc             jt 233	jf 216
(126) ldh      [x + 12]
(127) or       x
(128) jset     x                jt 257	jf 258
(129) ldb      [x + 12]
(130) and      #0xc
(131) and      x
(132) ld       M[12]
(133) ldx      M[12]
(134) lsh      #12
(135) lsh      x
(136) rsh      #12
(137) rsh      x
(138) ld       #pktlen
(139) unimp    0x81
(140) neg      
(141) txa      
(142) mod      #12
(143) mod      x
(144) xor      #0xc
(145) xor      x
(146) ldxb     4*([12]&0xf)
(147) ld       #0x5dc
(148) ldx      #0x5dc
(149) st       M[1500]
(150) stx      M[1500]
(151) add      #1500
(152) ja       1653
(153) ret      #1500
(154) tax      
(155) add      x
(156) sub      #1500
(157) jeq      #0x5dc           jt 233	jf 408
(158) ret      
(159) sub      x
(160) jeq      x                jt 257	jf 194
(161) ld       [1500]
(162) mul      #1500
(163) jgt      #0x5dc           jt 281	jf 236
(164) ldh      [1500]
(165) mul      x
(166) jgt      x                jt 305	jf 278
(167) ldb      [1500]
(168) div      #1500
(169) jge      #0x5dc           jt 329	jf 320
(170) div      x
(171) jge      x                jt 345	jf 348
(172) ld       [x + 1500]
(173) or       #0x5dc
(174) jset     #0x5dc           jt 369	jf 390
(175) ldh      [x + 1500]
(176) or       x
(177) jset     x                jt 393	jf 432
(178) ldb      [x + 1500]
(179) and      #0x5dc
(180) and      x
(181) ld       M[1500]
(182) ldx      M[1500]
(183) lsh      #1500
(184) lsh      x
(185) rsh      #1500
(186) rsh      x
(187) ld       #pktlen
(188) unimp    0x81
(189) neg      
(190) txa      
(191) mod      #1500
(192) mod      x
(193) xor      #0x5dc
(194) xor      x
(195) ldxb     4*([1500]&0xf)
(196) ld       #0x7fffffff
(197) ldx      #0x7fffffff
(198) st       M[2147483647]
(199) stx      M[2147483647]
(200) add      #2147483647
(201) ja       -2147483447
(202) ret      #2147483647
(203) tax      
(204) add      x
(205) sub      #2147483647
(206) jeq      #0x7fffffff      jt 369	jf 326
(207) ret      
(208) sub      x
(209) jeq      x                jt 393	jf 368
(210) ld       [2147483647]
(211) mul      #2147483647
(212) jgt      #0x7fffffff      jt 417	jf 410
(213) ldh      [2147483647]
(214) mul      x
(215) jgt      x                jt 441	jf 452
(216) ldb      [2147483647]
(217) div      #2147483647
(218) jge      #0x7fffffff      jt 465	jf 238
(219) div      x
(220) jge      x                jt 225	jf 266
(221) ld       [x + 2147483647]
(222) or       #0x7fffffff
(223) jset     #0x7fffffff      jt 249	jf 308
(224) ldh      [x + 2147483647]
(225) or       x
(226) jset     x                jt 273	jf 350
(227) ldb      [x + 2147483647]
(228) and      #0x7fffffff
(229) and      x
(230) ld       M[2147483647]
(231) ldx      M[2147483647]
(232) lsh      #2147483647
(233) lsh      x
(234) rsh      #2147483647
(235) rsh      x
(236) ld       #pktlen
(237) unimp    0x81
(238) neg      
(239) txa      
(240) mod      #2147483647
(241) mod      x
(242) xor      #0x7fffffff
(243) xor      x
(244) ldxb     4*([2147483647]&0xf)
(245) ld       #0x80000000
(246) ldx      #0x80000000
(247) st       M[-2147483648]
(248) stx      M[-2147483648]
(249) add      #-2147483648
(250) ja       -2147483397
(251) ret      #-2147483648
(252) tax      
(253) add      x
(254) sub      #-2147483648
(255) jeq      #0x80000000      jt 505	jf 500
(256) ret      
(257) sub      x
(258) jeq      x                jt 273	jf 286
(259) ld       [-2147483648]
(260) mul      #-2147483648
(261) jgt      #0x80000000      jt 297	jf 328
(262) ldh      [-2147483648]
(263) mul      x
(264) jgt      x                jt 321	jf 370
(265) ldb      [-2147483648]
(266) div      #-2147483648
(267) jge      #0x80000000      jt 345	jf 412
(268) div      x
(269) jge      x                jt 361	jf 440
(270) ld       [x + -2147483648]
(271) or       #0x80000000
(272) jset     #0x80000000      jt 385	jf 482
(273) ldh      [x + -2147483648]
(274) or       x
(275) jset     x                jt 409	jf 524
(276) ldb      [x + -2147483648]
(277) and      #0x80000000
(278) and      x
(279) ld       M[-2147483648]
(280) ldx      M[-2147483648]
(281) lsh      #-2147483648
(282) lsh      x
(283) rsh      #-2147483648
(284) rsh      x
(285) ld       #pktlen
(286) unimp    0x81
(287) neg      
(288) txa      
(289) mod      #-2147483648
(290) mod      x
(291) xor      #0x80000000
(292) xor      x
(293) ldxb     4*([-2147483648]&0xf)
(294) ld       #0xfffffff0
(295) ldx      #0xfffffff0
(296) st       M[-16]
(297) stx      M[-16]
(298) add      #-16
(299) ja       284
(300) ret      #-16
(301) tax      
(302) add      x
(303) sub      #-16
(304) jeq      #0xfffffff0      jt 385	jf 418
(305) ret      
(306) sub      x
(307) jeq      x                jt 409	jf 460
(308) ld       [-16]
(309) mul      #-16
(310) jgt      #0xfffffff0      jt 433	jf 502
(311) ldh      [-16]
(312) mul      x
(313) jgt      x                jt 457	jf 544
(314) ldb      [-16]
(315) div      #-16
(316) jge      #0xfffffff0      jt 481	jf 330
(317) div      x
(318) jge      x                jt 497	jf 358
(319) ld       [x + -16]
(320) or       #0xfffffff0
(321) jset     #0xfffffff0      jt 521	jf 400
(322) ldh      [x + -16]
(323) or       x
(324) jset     x                jt 545	jf 442
(325) ldb      [x + -16]
(326) and      #0xfffffff0
(327) and      x
(328) ld       M[-16]
(329) ldx      M[-16]
(330) lsh      #-16
(331) lsh      x
(332) rsh      #-16
(333) rsh      x
(334) ld       #pktlen
(335) unimp    0x81
(336) neg      
(337) txa      
(338) mod      #-16
(339) mod      x
(340) xor      #0xfffffff0
(341) xor      x
(342) ldxb     4*([-16]&0xf)
(343) ld       #0xffffffff
(344) ldx      #0xffffffff
(345) st       M[-1]
(346) stx      M[-1]
(347) add      #-1
(348) ja       348
(349) ret      #-1
(350) tax      
(351) add      x
(352) sub      #-1
(353) jeq      #0xffffffff      jt 521	jf 592
(354) ret      
(355) sub      x
(356) jeq      x                jt 545	jf 378
(357) ld       [-1]
(358) mul      #-1
(359) jgt      #0xffffffff      jt 569	jf 420
(360) ldh      [-1]
(361) mul      x
(362) jgt      x                jt 593	jf 462
(363) ldb      [-1]
(364) div      #-1
(365) jge      #0xffffffff      jt 617	jf 504
(366) div      x
(367) jge      x                jt 377	jf 532
(368) ld       [x + -1]
(369) or       #0xffffffff
(370) jset     #0xffffffff      jt 401	jf 574
(371) ldh      [x + -1]
(372) or       x
(373) jset     x                jt 425	jf 616
(374) ldb      [x + -1]
(375) and      #0xffffffff
(376) and      x
(377) ld       M[-1]
(378) ldx      M[-1]
(379) lsh      #-1
(380) lsh      x
(381) rsh      #-1
(382) rsh      x
(383) ld       #pktlen
(384) unimp    0x81
(385) neg      
(386) txa      
(387) mod      #-1
(388) mod      x
(389) xor      #0xffffffff
(390) xor      x
(391) ldxb     4*([-1]&0xf)
