import json
F=lambda i:(i,"fits",[],"All added phrases suit the scene.")
rows={
1:("mild",["steam and smoke rising"],"Steam and smoke are a stray element in an office call centre."),
3:("mild",["glossy toy-like surfaces","tilted dutch angle with a fisheye lens"],"Glossy toy surfaces and a fisheye lens sit oddly with a crocheted jumper in an oil painting."),
7:("mild",["steam and smoke rising"],"Steam and smoke are a stray element in an office call centre."),
9:("clash",["soft even light with no harsh shadows"],"Soft even shadowless light contradicts a single bulb late at night."),
10:("clash",["pale washed-out light"],"Pale washed-out light contradicts a chancel lit by a single candle."),
14:("mild",["slow reveal framing through a parted curtain"],"A curtain is a stray prop in an open saltmarsh."),
18:("mild",["vivid orange and electric-blue rim lights on either side of the paddleboarder"],"Coloured studio rim lights are out of place on a flooded lay-by in daylight."),
19:("clash",["motion blur streaking the background behind the moonbase","vivid orange and electric-blue rim lights on either side of the moonbase"],"Motion blur and rim lights are bound to the static moonbase rather than the landing rocket."),
23:("mild",["crackling sparks"],"Crackling sparks are odd in a silent lunar vacuum seen from above."),
25:("clash",["the underside of the clouds glowing orange at dusk"],"Orange sunset-lit clouds contradict blue hour during a snowfall."),
26:("mild",["hazard yellow and black stripes"],"Hazard stripes are a stray element in a silkworm-rearing room."),
28:("mild",["sparkly glitter on everything"],"Glitter on everything is a stray element in a college quadrangle."),
36:("clash",["ultra-wide panorama with a curving horizon","crisp fine detail from the foreground to the far edge"],"There is no horizon or far crisp detail when looking up from below in black water."),
37:("clash",["soft even light with no harsh shadows"],"Soft even shadowless light contradicts a single lamp on a rainy evening."),
41:("mild",["steam curling from a warm drink"],"A warm drink is a stray prop beside an antelope dozing on a boulder."),
42:("mild",["glittering dust motes suspended in the light"],"Dust motes are out of place in a misty outdoor saltmarsh."),
46:("mild",["sunrise flaring straight into the lens"],"A sunrise flare is odd for present-opening indoors on Christmas morning."),
57:("clash",["shot through a fly-specked lens"],"Being shot through a lens contradicts the charcoal-drawing medium."),
63:("clash",["aerial view from high above"],"An aerial view contradicts a cat on a windowsill watching snow from inside."),
72:("clash",["square instant-photo frame with a thick white border","glossy toy-like surfaces"],"An instant-photo frame contradicts the oil-painting medium."),
74:("mild",["crackling sparks"],"Sparks are a stray element in a desert camel gallop."),
}
out=[]
for i in range(80):
    if i in rows:
        l,p,w=rows[i]
    else:
        _,l,p,w=F(i)
    out.append(json.dumps({"id":i,"label":l,"phrases":p,"why":w}))
open("/tmp/judge101_GS.jsonl","w").write("\n".join(out)+"\n")
