"""The demo catalogue: fictional hospitals with realistic department trees and doctors."""

from app.domain.enums import DoctorTitle, HospitalLevel, SexRule

# (name, parent, sex rule, min age, max age, symptom keywords, specialties of its doctors)
DEPARTMENTS_FULL = [
    ("内科", None, SexRule.ANY, None, None, "", []),
    (
        "呼吸内科",
        "内科",
        SexRule.ANY,
        None,
        None,
        "咳嗽、咳痰、发烧、发热、气喘、胸闷、哮喘、感冒",
        ["慢性阻塞性肺疾病、哮喘", "肺部感染、肺结节"],
    ),
    (
        "消化内科",
        "内科",
        SexRule.ANY,
        None,
        None,
        "腹痛、腹泻、胃痛、恶心、呕吐、反酸、便秘、胃胀",
        ["胃食管反流、胃炎", "炎症性肠病、消化道早癌"],
    ),
    (
        "心血管内科",
        "内科",
        SexRule.ANY,
        None,
        None,
        "胸痛、心悸、心慌、高血压、头晕",
        ["高血压、冠心病", "心律失常"],
    ),
    ("外科", None, SexRule.ANY, None, None, "", []),
    (
        "普通外科",
        "外科",
        SexRule.ANY,
        None,
        None,
        "阑尾炎、疝气、甲状腺结节、乳腺结节、外伤",
        ["甲状腺与乳腺疾病"],
    ),
    (
        "骨科",
        "外科",
        SexRule.ANY,
        None,
        None,
        "腰痛、颈椎痛、关节痛、骨折、扭伤",
        ["脊柱外科", "关节置换、运动损伤"],
    ),
    ("妇产科", None, SexRule.FEMALE, None, None, "", []),
    (
        "妇科",
        "妇产科",
        SexRule.FEMALE,
        None,
        None,
        "月经不调、痛经、白带异常、妇科炎症、子宫肌瘤",
        ["妇科内分泌", "妇科肿瘤"],
    ),
    ("产科", "妇产科", SexRule.FEMALE, 14, None, "孕检、产检、怀孕", ["高危妊娠管理"]),
    (
        "儿科",
        None,
        SexRule.ANY,
        None,
        14,
        "小儿发烧、小儿咳嗽、小儿腹泻、儿童发育",
        ["小儿呼吸系统疾病", "儿童生长发育"],
    ),
    ("男科", None, SexRule.MALE, 14, None, "前列腺炎、男性不育", ["前列腺疾病"]),
    ("眼科", None, SexRule.ANY, None, None, "视力下降、眼痛、眼干、红眼、近视", ["白内障、青光眼"]),
    ("耳鼻喉科", None, SexRule.ANY, None, None, "耳鸣、鼻塞、咽痛、流鼻血、打鼾", ["鼻炎、鼻窦炎"]),
    ("皮肤科", None, SexRule.ANY, None, None, "皮疹、瘙痒、痤疮、湿疹、脱发", ["湿疹、银屑病"]),
    ("口腔科", None, SexRule.ANY, None, None, "牙痛、牙龈出血、智齿、龋齿", ["牙体牙髓病"]),
]

DEPARTMENTS_COMMUNITY = [
    (
        "全科医学科",
        None,
        SexRule.ANY,
        None,
        None,
        "感冒、发烧、慢病随访、高血压、糖尿病",
        ["慢病管理", "常见病诊治"],
    ),
    ("内科", None, SexRule.ANY, None, None, "", []),
    ("呼吸内科", "内科", SexRule.ANY, None, None, "咳嗽、咳痰、发热、气喘", ["呼吸道感染"]),
    ("妇科", None, SexRule.FEMALE, None, None, "月经不调、痛经、妇科炎症", ["妇科常见病"]),
    ("儿科", None, SexRule.ANY, None, 14, "小儿发烧、小儿咳嗽、疫苗咨询", ["儿童保健"]),
    ("口腔科", None, SexRule.ANY, None, None, "牙痛、龋齿、洗牙", ["口腔保健"]),
]

# (name, level, region, district, address, phone, intro, booking window days, departments)
HOSPITALS = [
    (
        "京华第一人民医院",
        HospitalLevel.GRADE_3A,
        "北京市",
        "西城区",
        "北京市西城区复兴门内大街 101 号",
        "010-66001234",
        "综合性三级甲等医院，临床科室齐全，呼吸、消化、心血管专科实力突出。",
        7,
        DEPARTMENTS_FULL,
    ),
    (
        "上海浦江中心医院",
        HospitalLevel.GRADE_3A,
        "上海市",
        "浦东新区",
        "上海市浦东新区浦江路 888 号",
        "021-58001234",
        "浦东地区大型综合医院，设有妇产、儿科和骨科重点专科。",
        7,
        DEPARTMENTS_FULL,
    ),
    (
        "徐汇区社区卫生服务中心",
        HospitalLevel.GRADE_2A,
        "上海市",
        "徐汇区",
        "上海市徐汇区漕溪北路 66 号",
        "021-64001234",
        "社区二级甲等医院，提供常见病、慢病随访和儿童保健服务。",
        5,
        DEPARTMENTS_COMMUNITY,
    ),
]

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN_NAMES = [
    "建国",
    "秀英",
    "志强",
    "丽华",
    "海燕",
    "文博",
    "晓明",
    "静怡",
    "国平",
    "玉兰",
    "立新",
    "慧敏",
    "振华",
    "雪梅",
    "永强",
    "春燕",
    "德明",
    "佳怡",
    "子涵",
    "明轩",
]

TITLES = [
    DoctorTitle.CHIEF,
    DoctorTitle.ASSOCIATE_CHIEF,
    DoctorTitle.ATTENDING,
    DoctorTitle.RESIDENT,
]
FEE_FEN = {
    DoctorTitle.CHIEF: 5000,
    DoctorTitle.ASSOCIATE_CHIEF: 3000,
    DoctorTitle.ATTENDING: 2000,
    DoctorTitle.RESIDENT: 1000,
}
CAPACITY = {
    DoctorTitle.CHIEF: 12,
    DoctorTitle.ASSOCIATE_CHIEF: 16,
    DoctorTitle.ATTENDING: 20,
    DoctorTitle.RESIDENT: 24,
}

DAYS = 8
STOP_REASON = "医生外出参加学术会议，本次门诊停诊"
